using InferServer.LoadGen.Scenarios;

namespace InferServer.LoadGen.Tests.Scenarios;

public sealed class AdapterScheduleTests
{
    private static string[] Adapters(RequestPlan plan) => plan.Phases.SelectMany(phase => phase).Select(request => request.Adapter).ToArray();

    [Fact]
    public void Distinct_GivesEveryRequestADifferentAdapter_ThenWraps()
    {
        var adapters = Adapters(AdapterSchedule.Build(Popularity.Distinct, 5, 3, "a", seed: 1));
        Assert.Equal(["a000", "a001", "a002", "a000", "a001"], adapters);
    }

    [Fact]
    public void Identical_AndBase_NameOneAdapterOrNone()
    {
        Assert.All(Adapters(AdapterSchedule.Build(Popularity.Identical, 10, 50, "a", seed: 1)), adapter => Assert.Equal("a000", adapter));
        Assert.All(Adapters(AdapterSchedule.Build(Popularity.Base, 10, 0, "a", seed: 1)), adapter => Assert.Equal("", adapter));
    }

    [Fact]
    public void Offset_ShiftsTheAdapterNames()
    {
        Assert.Equal(["a090", "a091"], Adapters(AdapterSchedule.Build(Popularity.Distinct, 2, 10, "a", seed: 1, offset: 90)));
    }

    [Fact]
    public void Uniform_CoversEveryAdapterEvenly()
    {
        var counts = Adapters(AdapterSchedule.Build(Popularity.Uniform, 10_000, 10, "a", seed: 3)).CountBy(adapter => adapter).ToArray();
        Assert.Equal(10, counts.Length);
        Assert.All(counts, pair => Assert.InRange(pair.Value, 850, 1150));
    }

    [Fact]
    public void Zipf_MakesTheFirstAdapterTheMostPopular()
    {
        var counts = Adapters(AdapterSchedule.Build(Popularity.Zipf, 10_000, 100, "a", seed: 3)).CountBy(adapter => adapter).ToDictionary();
        var expectedShare = 1 / Enumerable.Range(1, 100).Sum(k => Math.Pow(k, -1.2));
        Assert.InRange(counts["a000"] / 10_000.0, expectedShare - 0.02, expectedShare + 0.02);
        Assert.True(counts["a000"] > counts["a001"] && counts["a001"] > counts.GetValueOrDefault("a009"));
    }

    [Fact]
    public void Naive_HasTheUniformMultiset_GroupedOneAdapterPerPhase()
    {
        var uniform = AdapterSchedule.Build(Popularity.Uniform, 200, 8, "a", seed: 5);
        var naive = AdapterSchedule.Build(Popularity.Naive, 200, 8, "a", seed: 5);
        Assert.Equal(Adapters(uniform).Order(), Adapters(naive).Order());
        Assert.All(naive.Phases, phase => Assert.Single(phase.Select(request => request.Adapter).Distinct()));
        Assert.Equal(naive.Phases.Count, naive.Phases.Select(phase => phase[0].Adapter).Distinct().Count());
    }

    [Fact]
    public void ColdWarm_SendsEachAdapterTwiceInARow()
    {
        Assert.Equal(["a004", "a004", "a005", "a005"], Adapters(AdapterSchedule.Build(Popularity.ColdWarm, 4, 2, "a", seed: 1, offset: 4)));
    }

    [Fact]
    public void SameSeed_SamePlan()
    {
        Assert.Equal(Adapters(AdapterSchedule.Build(Popularity.Zipf, 500, 100, "a", seed: 9)),
            Adapters(AdapterSchedule.Build(Popularity.Zipf, 500, 100, "a", seed: 9)));
    }
}
