using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Merging;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;
using TorchSharp;

namespace InferServer.AdapterStore.Tests.Registry;

/// <summary>Counts process-wide live tensors, so nothing else may run beside it.</summary>
[CollectionDefinition(nameof(AdapterRegistryLeakTests), DisableParallelization = true)]
public sealed class AdapterRegistryLeakCollection;

[Collection(nameof(AdapterRegistryLeakTests))]
public sealed class AdapterRegistryLeakTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly TemporaryDirectory root = new();

    public void Dispose() => root.Dispose();

    [Fact]
    public async Task ConcurrentLoadsUnloadsAndRequests_OnceAllReleased_LeaveNoHostBytesOrTensors()
    {
        string[] names = [.. Enumerable.Range(0, 6).Select(i => $"a{i}")];
        for (int i = 0; i < names.Length; i++)
        {
            SyntheticAdapters.Write(root.File(names[i]), rank: 2 + i % 3, seed: i);
        }

        using var store = new AdapterRegistry(
            new AdapterStoreOptions { AdapterRoots = [root.Path], HostMaxAdapters = 3 }, SyntheticAdapters.Spec, torch.ScalarType.Float32);
        long before = LiveTensors.Settled();

        // Each worker plays requests (acquire, hold while another worker acts, release) and admin calls on a shared name set.
        var workers = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            var held = new List<AdapterLease>();
            for (int step = 0; step < 150; step++)
            {
                string name = names[random.Next(names.Length)];
                try
                {
                    switch (random.Next(10))
                    {
                        case 0:
                            await store.UnloadAsync(name, CancellationToken.None);
                            break;
                        case 1:
                            await store.LoadAsync(name, null, reload: random.Next(2) == 0, CancellationToken.None);
                            break;
                        default:
                            held.Add(await store.AcquireHostAsync(name, CancellationToken.None));
                            break;
                    }
                }
                catch (AdapterNotFoundException)
                {
                    // Unloaded by another worker: the expected answer for a request racing an unload.
                }

                if (held.Count > 3)
                {
                    int index = random.Next(held.Count);
                    held[index].Dispose();
                    held.RemoveAt(index);
                }
            }

            held.ForEach(lease => lease.Dispose());
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(Timeout);

        foreach (var info in store.List().Where(info => info.Tier != AdapterTier.Disk))
        {
            await store.UnloadAsync(info.Name, CancellationToken.None);
        }

        Assert.Equal(0, store.HostBytes);
        Assert.Equal(0, store.HostAdapterCount);
        Assert.Equal(before, LiveTensors.Now);
    }

    [Fact]
    public async Task DeviceSlotsAndMergedCopies_AreFreedWithTheirOwners()
    {
        SyntheticAdapters.Write(root.File("a"), rank: 4, seed: 1);
        SyntheticAdapters.Write(root.File("b"), rank: 2, seed: 2);
        var options = new AdapterStoreOptions { AdapterRoots = [root.Path], DeviceSlots = 2 };
        using var store = new AdapterRegistry(options, SyntheticAdapters.Spec, torch.ScalarType.Float32);
        var targets = FakeLoraTarget.For(SyntheticAdapters.Spec);
        long before = LiveTensors.Settled();

        using (var engine = new EngineThread())
        {
            var (table, merges) = await engine.RunAsync(() => (
                new DeviceSlotTable(targets, options.DeviceSlots, options.MaxRank, torch.ScalarType.Float32, torch.CPU, store.Host),
                new MergeCache(targets, options, store.Host)));
            for (int round = 0; round < 20; round++)
            {
                using var lease = await store.AcquireHostAsync(round % 3 == 0 ? "b" : "a", CancellationToken.None);
                var adapter = lease.Adapter;
                await engine.RunAsync(() =>
                {
                    Assert.True(table.TryAcquire(adapter, out int slot, out _));
                    merges.Activate(adapter);
                    merges.Deactivate();
                    table.Release(slot);
                });
            }

            await store.UnloadAsync("a", CancellationToken.None);
            Assert.Equal(1, await engine.RunAsync(table.FreeRetired));
            await engine.RunAsync(() =>
            {
                merges.Dispose();
                table.Dispose();
            });
        }

        await store.UnloadAsync("b", CancellationToken.None);
        Assert.Equal(0, store.HostBytes);
        Assert.Equal(before, LiveTensors.Now);
        FakeLoraTarget.DisposeAll(targets);
    }
}
