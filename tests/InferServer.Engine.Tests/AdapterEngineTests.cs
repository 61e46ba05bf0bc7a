using InferServer.AdapterStore.Configuration;
using InferServer.Engine;
using InferServer.Engine.Tests.Models;

namespace InferServer.Engine.Tests;

/// <summary>The engine with the real adapter store: PEFT adapters exact, batching across adapters invariant, merge exact, fair.</summary>
[Collection(EngineCollection.Name)]
public sealed class AdapterEngineTests
{
    private static readonly string[] FixtureAdapterNames = ["qv-r8", "all-r16", "qv-r4-layer1"];

    private static int[][] Inputs => Fixtures.Inputs("llama-tiny").Select(i => i.Select(t => (int)t).ToArray()).ToArray();

    private static int[] ExpectedGreedy(string? adapter, int input) =>
        Fixtures.Case("llama-tiny", adapter).GetProperty("greedy")[input].EnumerateArray().Select(t => t.GetInt32()).ToArray();

    [Fact]
    public async Task EveryFixtureAdapter_GreedyMatchesTransformersAndPeft()
    {
        await using var runtime = await EngineFixture.StartWithStore(EngineFixture.FixtureAdapters());
        var engine = runtime.Engine;
        foreach (var adapter in FixtureAdapterNames)
            for (var i = 0; i < Inputs.Length; i++)
            {
                var (deltas, final) = await EngineFixture.Collect(engine, EngineFixture.Greedy(Inputs[i], 8, adapter));
                Assert.Equal(ExpectedGreedy(adapter, i), EngineFixture.TokenIds(deltas));
                Assert.NotEqual(AdapterServedFrom.Base, final.ServedFrom);
            }
    }

    [Fact]
    public async Task MixedAdapterBatch_GivesEachRequestItsSoloOutput()
    {
        await using var runtime = await EngineFixture.StartWithStore(EngineFixture.FixtureAdapters(), new EngineOptions { KvCacheBytes = 8L * 1024 * 1024, MaxBatchTokens = 128 });
        var engine = runtime.Engine;
        string?[] adapters = [null, .. FixtureAdapterNames];
        var random = new Random(11);
        var requests = Enumerable.Range(0, 33).Select(i => EngineFixture.Greedy(
            Enumerable.Range(0, random.Next(3, 30)).Select(_ => random.Next(1, 1000)).ToArray(), 10, adapters[i % adapters.Length])).ToArray();
        var alone = new List<int[]>();
        foreach (var request in requests)
            alone.Add(EngineFixture.TokenIds((await EngineFixture.Collect(engine, request)).Deltas));

        var together = await Task.WhenAll(requests.Select(r => EngineFixture.Collect(engine, r)));

        Assert.True(engine.Status.RowsProcessed > engine.Status.Steps, "requests were expected to share steps");
        for (var i = 0; i < requests.Length; i++)
            Assert.Equal(alone[i], EngineFixture.TokenIds(together[i].Deltas));
    }

    [Fact]
    public async Task HotAdapter_ServedMerged_GivesTheUnmergedOutput()
    {
        var options = EngineFixture.FixtureAdapters(merge: true) with { MergeWindow = 4, MergeMinShare = 0.5 };
        await using var runtime = await EngineFixture.StartWithStore(options);
        var engine = runtime.Engine;
        var finals = new List<GenerationFinished>();
        for (var round = 0; round < 3; round++)
            for (var i = 0; i < Inputs.Length; i++)
            {
                var (deltas, final) = await EngineFixture.Collect(engine, EngineFixture.Greedy(Inputs[i], 8, "all-r16"));
                Assert.Equal(ExpectedGreedy("all-r16", i), EngineFixture.TokenIds(deltas));
                finals.Add(final);
            }
        Assert.Contains(finals, f => f.ServedFrom == AdapterServedFrom.Merged);

        var (baseDeltas, _) = await EngineFixture.Collect(engine, EngineFixture.Greedy(Inputs[0], 8));
        Assert.Equal(ExpectedGreedy(null, 0), EngineFixture.TokenIds(baseDeltas));
    }

    [Fact]
    public async Task RareAdapter_IsNotStarvedByAStreamOfPopularOnes()
    {
        var engineOptions = new EngineOptions
        {
            KvCacheBytes = 8L * 1024 * 1024,
            MaxBatchRows = 2,
            MaxQueueWaitBeforePriority = TimeSpan.FromMilliseconds(100),
        };
        await using var runtime = await EngineFixture.StartWithStore(EngineFixture.FixtureAdapters(deviceSlots: 1), engineOptions);
        var engine = runtime.Engine;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var popularDone = 0;
        var rareFinishedAfter = -1;
        async Task PopularStream()
        {
            while (rareFinishedAfter < 0 && !stop.IsCancellationRequested)
            {
                await EngineFixture.Collect(engine, EngineFixture.Greedy(Inputs[0], 6, "qv-r8"), stop.Token);
                Interlocked.Increment(ref popularDone);
            }
        }
        var streams = Enumerable.Range(0, 3).Select(_ => Task.Run(PopularStream)).ToArray();
        await Poll.UntilAsync(() => Volatile.Read(ref popularDone) >= 3);

        var (deltas, final) = await EngineFixture.Collect(engine, EngineFixture.Greedy(Inputs[1], 6, "all-r16"), stop.Token);
        rareFinishedAfter = Volatile.Read(ref popularDone);
        await Task.WhenAll(streams);

        Assert.Equal(ExpectedGreedy("all-r16", 1)[..6], EngineFixture.TokenIds(deltas));
        Assert.True(final.Timing.QueueWait < TimeSpan.FromSeconds(10), $"the rare request waited {final.Timing.QueueWait}");
    }

    [Fact]
    public async Task ThousandAdaptersOnEightSlots_ZipfStream_EveryRequestGetsItsOwnAdapter()
    {
        var root = SyntheticLlamaTinyAdapters.WriteMany(1000);
        var storeOptions = new AdapterStoreOptions { AdapterRoots = [root], DeviceSlots = 8, MaxRank = 8, HostMaxAdapters = 32, MergeEnabled = false };
        await using var runtime = await EngineFixture.StartWithStore(storeOptions);
        var engine = runtime.Engine;
        var zipf = new ZipfSampler(1000, 1.2, seed: 3);
        var names = Enumerable.Range(0, 240).Select(_ => SyntheticLlamaTinyAdapters.Name(zipf.Next())).ToArray();
        var prompt = Inputs[1];

        var together = await Task.WhenAll(names.Select(n => EngineFixture.Collect(engine, EngineFixture.Greedy(prompt, 4, n))));

        var solo = new Dictionary<string, int[]>();
        foreach (var name in names.Distinct())
            solo[name] = EngineFixture.TokenIds((await EngineFixture.Collect(engine, EngineFixture.Greedy(prompt, 4, name))).Deltas);
        var baseOutput = EngineFixture.TokenIds((await EngineFixture.Collect(engine, EngineFixture.Greedy(prompt, 4))).Deltas);
        Assert.True(solo.Values.Count(o => !o.SequenceEqual(baseOutput)) > solo.Count / 2, "most synthetic adapters must change the output");
        for (var i = 0; i < names.Length; i++)
            Assert.Equal(solo[names[i]], EngineFixture.TokenIds(together[i].Deltas));
        Assert.True(names.Distinct().Count() > 8, "the stream must need more adapters than there are slots");
    }
}
