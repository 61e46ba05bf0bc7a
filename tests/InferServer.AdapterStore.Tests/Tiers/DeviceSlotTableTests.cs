using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;
using TorchSharp;
using static InferServer.AdapterStore.Tests.SyntheticAdapters;

namespace InferServer.AdapterStore.Tests.Tiers;

public sealed class DeviceSlotTableTests : IDisposable
{
    private readonly TemporaryDirectory root = new();
    private readonly Dictionary<string, ILoraTarget> targets = FakeLoraTarget.For(Spec);
    private readonly List<LoraAdapter> adapters = [];

    public void Dispose()
    {
        adapters.ForEach(adapter => adapter.Dispose());
        FakeLoraTarget.DisposeAll(targets);
        root.Dispose();
    }

    [Fact]
    public void AcquiredSlot_HoldsTheAdaptersAAndScaledB_InEveryModuleItTargets()
    {
        using var table = NewTable(slots: 4);
        var adapter = NewAdapter("a", rank: 4, seed: 1, alpha: 12);

        Assert.True(table.TryAcquire(adapter, out int slot, out bool loadedNow));

        Assert.True(loadedNow);
        Assert.Equal(1, slot);
        AssertSlotHolds(table, slot, adapter);
        Assert.All(AllModules, module => Assert.Same(table.Pools[module], targets[module].Pool));
    }

    [Fact]
    public void ResidentAdapter_IsPinnedAgainWithoutRewriting()
    {
        using var table = NewTable(slots: 2);
        var adapter = NewAdapter("a", rank: 4, seed: 1);
        Assert.True(table.TryAcquire(adapter, out int first, out _));

        Assert.True(table.TryAcquire(adapter, out int second, out bool loadedNow));

        Assert.Equal((first, false, 2), (second, loadedNow, table.PinsOf(first)));
    }

    [Fact]
    public void PoolsAreCreatedOnlyForModulesSomeResidentAdapterTargets()
    {
        using var table = NewTable(slots: 2);

        Assert.True(table.TryAcquire(NewAdapter("q", rank: 2, seed: 1, modules: [Q0, Q1]), out _, out _));

        Assert.Equal([Q0, Q1], table.Pools.Keys.Order());
        Assert.Null(targets[V0].Pool);
        Assert.Equal(2 * table.Pools[Q0].BytesPerSlot * 3, table.DeviceBytes);
    }

    [Fact]
    public void SmallerAdapterWrittenOverABiggerOne_LeavesNoResidue()
    {
        using var table = NewTable(slots: 1);
        var big = NewAdapter("big", rank: 8, seed: 1);
        var small = NewAdapter("small", rank: 2, seed: 2, modules: [Q0]);
        Assert.True(table.TryAcquire(big, out int slot, out _));
        table.Release(slot);

        Assert.True(table.TryAcquire(small, out int reused, out bool loadedNow));

        Assert.Equal((slot, true), (reused, loadedNow));
        AssertSlotHolds(table, slot, small);
        var pool = table.Pools[Q0];
        Assert.Equal(0, pool.A[slot].narrow(0, 2, 6).count_nonzero().item<long>());
        Assert.Equal(0, pool.B[slot].narrow(1, 2, 6).count_nonzero().item<long>());
        foreach (string module in new[] { V0, Q1, V1 })
        {
            Assert.Equal(0, table.Pools[module].RankOf(slot));
            Assert.Equal(0, table.Pools[module].A[slot].count_nonzero().item<long>() + table.Pools[module].B[slot].count_nonzero().item<long>());
        }
    }

    [Fact]
    public void FullTable_EvictsTheLeastRecentlyUsedUnpinnedAdapter()
    {
        using var table = NewTable(slots: 2);
        var (a, b, c) = (NewAdapter("a", 2, 1), NewAdapter("b", 2, 2), NewAdapter("c", 2, 3));
        var evicted = new List<string>();
        table.Changed += (_, e) => { if (e.Kind == AdapterEventKind.Evicted) evicted.Add(e.Name); };
        Acquire(table, a, release: true);
        Acquire(table, b, release: true);
        Acquire(table, a, release: true);

        int slot = Acquire(table, c, release: false);

        Assert.Equal(0, table.SlotOf(b));
        Assert.Equal(2, slot);
        Assert.NotEqual(0, table.SlotOf(a));
        Assert.Equal(["b"], evicted);
        AssertSlotHolds(table, slot, c);
    }

    [Fact]
    public void SlotPinnedThroughManySteps_CountsAsUsedUntilItsRelease_SoTheIdleOneIsEvicted()
    {
        using var table = NewTable(slots: 2);
        var (a, b, c) = (NewAdapter("a", 2, 1), NewAdapter("b", 2, 2), NewAdapter("c", 2, 3));
        var writes = new List<string>();
        table.Changed += (_, e) => { if (e.Kind == AdapterEventKind.Loaded) writes.Add(e.Name); };
        int slotA = Acquire(table, a, release: false); // a long request: every step uses a until it ends
        Acquire(table, b, release: true);              // a short one on b comes and goes meanwhile
        table.Release(slotA);                          // the long request ends: a was used after b

        Acquire(table, c, release: true);
        Acquire(table, a, release: true);

        Assert.Equal(0, table.SlotOf(b));
        Assert.Equal(slotA, table.SlotOf(a));
        Assert.Equal(["a", "b", "c"], writes); // a is served again from its slot, not rewritten
    }

    [Fact]
    public void StepsWhoseAdaptersFit_WriteEachAdapterOnce_WhateverOrderTheyComeIn()
    {
        using var table = NewTable(slots: 3);
        LoraAdapter[] set = [NewAdapter("a", 2, 1), NewAdapter("b", 2, 2), NewAdapter("c", 2, 3)];
        var writes = 0;
        table.Changed += (_, e) => { if (e.Kind == AdapterEventKind.Loaded) writes++; };
        var random = new Random(7);

        for (int step = 0; step < 20; step++)
        {
            // A step: some requests pin their adapters' slots (in any order), and some of them end after it.
            var pinned = set.OrderBy(_ => random.Next()).Take(random.Next(1, 4)).Select(adapter => Acquire(table, adapter, release: false)).ToList();
            pinned.ForEach(table.Release);
        }

        Assert.Equal(3, writes);
    }

    [Fact]
    public void PinnedSlot_IsNeverEvicted_AndAFullTableSaysNoUntilARelease()
    {
        using var table = NewTable(slots: 2);
        var (a, b, c) = (NewAdapter("a", 2, 1), NewAdapter("b", 2, 2), NewAdapter("c", 2, 3));
        int slotA = Acquire(table, a, release: false);
        int slotB = Acquire(table, b, release: false);

        Assert.False(table.TryAcquire(c, out int none, out bool loadedNow));
        Assert.Equal((0, false), (none, loadedNow));
        Assert.Same(a, table.AdapterIn(slotA));
        Assert.Same(b, table.AdapterIn(slotB));
        AssertSlotHolds(table, slotA, a);
        AssertSlotHolds(table, slotB, b);

        table.Release(slotB);

        Assert.True(table.TryAcquire(c, out int slotC, out _));
        Assert.Equal(slotB, slotC);
        AssertSlotHolds(table, slotC, c);
        Assert.Same(a, table.AdapterIn(slotA));
    }

    [Fact]
    public void ReleaseWithoutAcquire_IsAnError()
    {
        using var table = NewTable(slots: 2);

        Assert.Throws<InvalidOperationException>(() => table.Release(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Release(0));
    }

    [Fact]
    public void AnotherThread_MayNotUseTheTable()
    {
        using var table = NewTable(slots: 2);
        var adapter = NewAdapter("a", 2, 1);
        Acquire(table, adapter, release: true);

        Exception? error = null;
        var thread = new Thread(() => error = Record.Exception(() => table.TryAcquire(adapter, out _, out _)));
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)));

        Assert.IsType<InvalidOperationException>(error);
    }

    [Fact]
    public void AdapterForAnotherModel_IsRefusedBeforeAnySlotIsWritten()
    {
        using var table = NewTable(slots: 2, maxRank: 2);

        var error = Assert.Throws<ArgumentException>(() => table.TryAcquire(NewAdapter("wide", rank: 4, seed: 1), out _, out _));

        Assert.Contains("above the pool rank 2", error.Message);
        Assert.Equal(0, table.ResidentCount);
    }

    internal static void AssertSlotHolds(DeviceSlotTable table, int slot, LoraAdapter adapter)
    {
        using var scope = torch.NewDisposeScope();
        Assert.Same(adapter, table.AdapterIn(slot));
        foreach (var (module, weights) in adapter.Modules)
        {
            var pool = table.Pools[module];
            int rank = weights.Rank;
            Assert.Equal(rank, pool.RankOf(slot));
            TensorAssert.Identical(weights.A, pool.A[slot].narrow(0, 0, rank), $"A of {module}");
            using var scaled = weights.B.to(torch.ScalarType.Float64).mul(weights.Scale).to(torch.ScalarType.Float32);
            TensorAssert.Identical(scaled, pool.B[slot].narrow(1, 0, rank), $"s·B of {module}");
        }

        foreach (var (module, pool) in table.Pools)
        {
            if (!adapter.Modules.ContainsKey(module))
            {
                Assert.Equal(0, pool.RankOf(slot));
            }
        }
    }

    private static int Acquire(DeviceSlotTable table, LoraAdapter adapter, bool release)
    {
        Assert.True(table.TryAcquire(adapter, out int slot, out _));
        if (release)
        {
            table.Release(slot);
        }

        return slot;
    }

    private DeviceSlotTable NewTable(int slots, int maxRank = 8) =>
        new(targets, slots, maxRank, torch.ScalarType.Float32, torch.CPU);

    private LoraAdapter NewAdapter(string name, int rank, int seed, IReadOnlyList<string>? modules = null, double alpha = 8)
    {
        var adapter = SyntheticAdapters.Load(root, name, rank, seed, modules, alpha);
        adapters.Add(adapter);
        return adapter;
    }
}
