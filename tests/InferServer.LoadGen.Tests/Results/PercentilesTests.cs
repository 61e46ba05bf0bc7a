using InferServer.LoadGen.Results;

namespace InferServer.LoadGen.Tests.Results;

public sealed class PercentilesTests
{
    [Fact]
    public void Interpolates_BetweenClosestRanks_AsNumpyLinear()
    {
        double[] sorted = [1, 2, 3, 4];
        // numpy.percentile([1, 2, 3, 4], [0, 50, 90, 99, 100]) = 1, 2.5, 3.7, 3.97, 4
        Assert.Equal(1, Percentiles.OfSorted(sorted, 0), 12);
        Assert.Equal(2.5, Percentiles.OfSorted(sorted, 50), 12);
        Assert.Equal(3.7, Percentiles.OfSorted(sorted, 90), 12);
        Assert.Equal(3.97, Percentiles.OfSorted(sorted, 99), 12);
        Assert.Equal(4, Percentiles.OfSorted(sorted, 100), 12);
    }

    [Fact]
    public void OneValue_IsEveryPercentile()
    {
        var summary = PercentileSummary.Of([42.0])!;
        Assert.Equal((42.0, 42.0, 42.0), (summary.P50, summary.P90, summary.P99));
    }

    [Fact]
    public void Summary_SortsItsInput_AndEmptyIsNull()
    {
        var summary = PercentileSummary.Of([10.0, 1, 5, 3, 7, 9, 2, 8, 4, 6])!;
        Assert.Equal(5.5, summary.P50, 12);
        Assert.Equal(9.1, summary.P90, 12);
        Assert.Equal(10, summary.Max);
        Assert.Null(PercentileSummary.Of([]));
    }

    [Fact]
    public void TimePerOutputToken_ExcludesTheFirstToken()
    {
        // Start 0 s, first token at 0.1 s, end at 0.5 s, 5 tokens: 4 gaps over 400 ms.
        var outcome = new RequestOutcome(0, "", "OK", 0, 0.1, 0.5, 5, null, null, null);
        Assert.Equal(100, outcome.TimePerOutputTokenMs!.Value, 9);
        Assert.Equal(100, outcome.TimeToFirstTokenMs!.Value, 9);
    }

    [Fact]
    public void ColdAndWarm_SplitByFirstUseOfEachAdapter()
    {
        RequestOutcome Outcome(int index, string adapter, double ttft) => new(index, adapter, "OK", index, null, index + 1, 4, ttft, 0, "Device");
        var summary = RunSummary.From("x", "t", "coldwarm", "closed", new Dictionary<string, string>(), 4, 0,
            [Outcome(0, "a", 50), Outcome(1, "a", 10), Outcome(2, "b", 70), Outcome(3, "b", 12)], 4, null);
        Assert.Equal(60, summary.ColdServerTimeToFirstTokenMs!.P50, 9);
        Assert.Equal(11, summary.WarmServerTimeToFirstTokenMs!.P50, 9);
    }
}
