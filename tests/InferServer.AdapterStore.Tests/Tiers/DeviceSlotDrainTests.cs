using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;
using TorchSharp;

namespace InferServer.AdapterStore.Tests.Tiers;

/// <summary>The device tier and the host tier together: unload and reload drain through device slots too.</summary>
public sealed class DeviceSlotDrainTests : IDisposable
{
    private readonly TemporaryDirectory root = new();
    private readonly Dictionary<string, ILoraTarget> targets = FakeLoraTarget.For(SyntheticAdapters.Spec);
    private readonly EngineThread engine = new();

    public void Dispose()
    {
        engine.Dispose();
        FakeLoraTarget.DisposeAll(targets);
        root.Dispose();
    }

    [Fact]
    public async Task UnloadedAdapterInAPinnedSlot_KeepsServingUntilTheLastReleaseThenFreesSlotAndHostMemory()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        using var store = NewStore();
        var table = await engine.RunAsync(() => NewTable(store));
        var adapterLease = await store.AcquireHostAsync("a", CancellationToken.None);
        var adapter = adapterLease.Adapter;
        int slot = await engine.RunAsync(() => table.TryAcquire(adapter, out int slot, out _) ? slot : 0);
        Assert.Equal(AdapterTier.Device, store.Get("a").Tier);

        await store.UnloadAsync("a", CancellationToken.None);

        Assert.Equal(0, await engine.RunAsync(table.FreeRetired)); // pinned: still serving
        await engine.RunAsync(() => DeviceSlotTableTests.AssertSlotHolds(table, slot, adapter));
        await engine.RunAsync(() => table.Release(slot));
        Assert.Null(await engine.RunAsync(() => table.AdapterIn(slot)));
        Assert.True(await engine.RunAsync(() => table.Pools.Values.All(pool => pool.RankOf(slot) == 0)));
        Assert.Equal(adapter.TotalBytes, store.HostBytes); // the request still holds its host pin
        adapterLease.Dispose();
        Assert.Equal(0, store.HostBytes);
        await engine.RunAsync(table.Dispose);
    }

    [Fact]
    public async Task IdleResidentAdapter_IsFreedByFreeRetiredAfterAnUnload()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        using var store = NewStore();
        var table = await engine.RunAsync(() => NewTable(store));
        var adapterLease = await store.AcquireHostAsync("a", CancellationToken.None);
        var adapter = adapterLease.Adapter;
        await engine.RunAsync(() =>
        {
            Assert.True(table.TryAcquire(adapter, out int slot, out _));
            table.Release(slot);
        });
        adapterLease.Dispose();
        Assert.Equal(adapter.TotalBytes, store.HostBytes); // a resident slot keeps the host copy

        await store.UnloadAsync("a", CancellationToken.None);

        Assert.Equal(1, await engine.RunAsync(table.FreeRetired));
        Assert.Equal(0, await engine.RunAsync(() => table.ResidentCount));
        Assert.Equal(0, store.HostBytes);
        await engine.RunAsync(table.Dispose);
    }

    [Fact]
    public async Task ReloadedAdapter_TakesANewSlot_WhileRequestsOnTheOldOneFinish()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        using var store = NewStore();
        var table = await engine.RunAsync(() => NewTable(store));
        var oldLease = await store.AcquireHostAsync("a", CancellationToken.None);
        var old = oldLease.Adapter;
        int oldSlot = await engine.RunAsync(() => table.TryAcquire(old, out int slot, out _) ? slot : 0);
        SyntheticAdapters.Write(root.File("a"), rank: 2, seed: 2);

        await store.LoadAsync("a", null, reload: true, CancellationToken.None);
        var currentLease = await store.AcquireHostAsync("a", CancellationToken.None);
        var current = currentLease.Adapter;
        int newSlot = await engine.RunAsync(() => table.TryAcquire(current, out int slot, out _) ? slot : 0);

        Assert.NotEqual(oldSlot, newSlot);
        await engine.RunAsync(() => DeviceSlotTableTests.AssertSlotHolds(table, oldSlot, old));
        await engine.RunAsync(() => DeviceSlotTableTests.AssertSlotHolds(table, newSlot, current));
        await engine.RunAsync(() => table.Release(oldSlot));
        oldLease.Dispose();
        Assert.Null(await engine.RunAsync(() => table.AdapterIn(oldSlot)));
        Assert.Equal(current.TotalBytes, store.HostBytes);
        await engine.RunAsync(() => table.Release(newSlot));
        currentLease.Dispose();
        await engine.RunAsync(table.Dispose);
    }

    private AdapterRegistry NewStore() =>
        new(new AdapterStoreOptions { AdapterRoots = [root.Path], DeviceSlots = 2, MaxRank = 8 }, SyntheticAdapters.Spec, torch.ScalarType.Float32);

    private DeviceSlotTable NewTable(AdapterRegistry store) => new(targets, 2, 8, torch.ScalarType.Float32, torch.CPU, store.Host);
}
