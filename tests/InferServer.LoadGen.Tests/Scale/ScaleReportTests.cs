using InferServer.LoadGen.Results;
using InferServer.LoadGen.Scale;

namespace InferServer.LoadGen.Tests.Scale;

public sealed class ScaleReportTests
{
    [Fact]
    public void Headline_IsTheMedianOfRatiosWithinRounds_NotTheRatioOfMedians()
    {
        // Round 0 is fast for both cells, round 1 slow for both: paired ratios are 0.9 and 0.95, median 0.925. The ratio of
        // the medians (1000: 54.5 over 5: 60) would mix rounds and give 0.908.
        var results = Results(("closed/zipf/5", 0, 100), ("closed/zipf/1000", 0, 90), ("closed/zipf/5", 1, 20), ("closed/zipf/1000", 1, 19));

        var headline = ScaleReport.Headline(results, [5, 1000]);

        Assert.StartsWith("scale-ratio adapters=1000/5=0.93 (Zipf 1.2, 64 concurrent, closed loop; 2 rounds, per-round 0.90-0.95)", headline);
    }

    [Fact]
    public void MergeHeadline_NamesTheWorstMixAndTheSingleAdapterRatio()
    {
        var merge = new MergeResults("medium", 8, 16, "1", "1",
        [
            new MergeCell("Zipf12", 64, 0, 96, 100, 0), new MergeCell("Zipf12", 64, 1, 99, 100, 0), new MergeCell("Zipf12", 64, 2, 90, 100, 0),
            new MergeCell("One", 64, 0, 110, 100, 1), new MergeCell("One", 64, 1, 120, 100, 1), new MergeCell("One", 64, 2, 104, 100, 1),
        ]);

        Assert.Equal("merge-ratio on/off min=0.96 (Zipf12 x64) one-adapter min=1.10 (model medium, 3 rounds)", ScaleReport.MergeHeadline(merge));
    }

    private static ScaleResults Results(params (string Cell, int Round, double TokensPerSecond)[] cells) => new(
        new Dictionary<string, string> { ["concurrency"] = "64", ["zipf_alpha"] = "1.2" }, 0, "", "",
        cells.Select(cell => new CellMeasurement(cell.Round, cell.Cell, Summary(cell.TokensPerSecond), null, 0, 0, 0, 0, 1)).ToList());

    private static RunSummary Summary(double tokensPerSecond) => RunSummary.From("cell", "test", "zipf", "closed", new Dictionary<string, string>(), 1, 0,
        [new RequestOutcome(0, "a", "OK", 0, 0.1, 1, (int)tokensPerSecond, null, null, "Device")], 1, null);
}
