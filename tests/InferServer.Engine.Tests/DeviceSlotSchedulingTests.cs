using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Tiers;
using InferServer.Engine;
using InferServer.Engine.Tests.Models;

namespace InferServer.Engine.Tests;

/// <summary>
/// Device slots under the scheduler (issue 24 item 4): fewer slots than a step has rows bound the step's distinct adapters
/// and never swap a slot under a step; slots are evicted least recently used, a slot counting as used until its last request ends.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class DeviceSlotSchedulingTests
{
    private static readonly string[] FixtureAdapterNames = ["qv-r8", "all-r16", "qv-r4-layer1"];

    private static int[][] Inputs => Fixtures.Inputs("llama-tiny").Select(i => i.Select(t => (int)t).ToArray()).ToArray();

    private static int[] ExpectedGreedy(string? adapter, int input) =>
        Fixtures.Case("llama-tiny", adapter).GetProperty("greedy")[input].EnumerateArray().Select(t => t.GetInt32()).ToArray();

    private static AdapterStoreOptions Slots(int deviceSlots) => new()
    {
        AdapterRoots = [Path.Combine(ReferenceFixtures.Root, "llama-tiny", "adapters")],
        DeviceSlots = deviceSlots,
        MaxRank = 16,
        MergeEnabled = false,
    };

    [Fact]
    public async Task FewerSlotsThanAStepNeeds_StepsHoldAtMostThatManyAdapters_AndNoSlotIsSwappedUnderAStep()
    {
        await using var engine = StoreBackedEngine.Start(new EngineOptions { KvCacheBytes = 8L * 1024 * 1024, MaxBatchRows = 16 }, Slots(2));
        var cases = FixtureAdapterNames.SelectMany(adapter => Enumerable.Range(0, Inputs.Length).Select(input => (adapter, input))).ToArray();

        var results = await Task.WhenAll(cases.Select(c => EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Inputs[c.input], 8, c.adapter))));

        for (var i = 0; i < cases.Length; i++)
            Assert.Equal(ExpectedGreedy(cases[i].adapter, cases[i].input), EngineFixture.TokenIds(results[i].Deltas));
        Assert.Equal(0, engine.Adapters.SlotsRewrittenWhilePinned);
        Assert.InRange(engine.Adapters.MostSlotsPinnedAtOnce, 1, 2); // three adapters wanted, two slots: one waited its turn
        Assert.True(engine.Engine.Status.RowsProcessed > engine.Engine.Status.Steps, "requests were expected to share steps");
        await Poll.UntilAsync(() => engine.Store.RequestPins == 0);
    }

    [Fact]
    public async Task SlotHeldByALongRequest_IsNotEvictedForAnIdleOne_WhenThatRequestHasJustEnded()
    {
        await using var engine = StoreBackedEngine.Start(new EngineOptions { KvCacheBytes = 8L * 1024 * 1024 }, Slots(2));
        var (longOne, shortOne, newOne) = ("all-r16", "qv-r8", "qv-r4-layer1");
        // Host copies first, so the short request is admitted at the next step rather than after a read from disk.
        var leases = new List<AdapterLease>();
        foreach (var name in FixtureAdapterNames)
            leases.Add(await engine.Store.AcquireHostAsync(name, CancellationToken.None));
        var running = engine.Engine.GenerateAsync(EngineFixture.Greedy(Inputs[0], 100, longOne)).GetAsyncEnumerator();
        Assert.True(await running.MoveNextAsync()); // the long request holds its slot from here on

        await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Inputs[1], 1, shortOne));
        while (await running.MoveNextAsync())
        {
        }

        await running.DisposeAsync();
        await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Inputs[2], 1, newOne)); // needs a slot: evicts the idle short one's
        var (deltas, _) = await EngineFixture.Collect(engine.Engine, EngineFixture.Greedy(Inputs[0], 8, longOne));

        Assert.Equal(ExpectedGreedy(longOne, 0), EngineFixture.TokenIds(deltas));
        Assert.Equal([longOne, shortOne, newOne], engine.Adapters.SlotWrites); // the long one's adapter was served from its slot again
        leases.ForEach(lease => lease.Dispose());
    }
}
