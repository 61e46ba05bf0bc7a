using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;
using TorchSharp;

namespace InferServer.AdapterStore.Tests.Tiers;

/// <summary>
/// Many adapters, few slots, a skewed popularity (S-LoRA's and Punica's workloads draw adapters from a power law): the host
/// and device tiers evict and reload constantly, and every acquisition must still land the right weights in its slot.
/// </summary>
public sealed class ZipfWorkloadTests : IDisposable
{
    private const int Adapters = 1000;
    private const int Slots = 8;
    private const int Acquisitions = 2000;
    private const int HeldAtOnce = 4;
    private readonly TemporaryDirectory root = new();

    public void Dispose() => root.Dispose();

    [Fact]
    public async Task ThousandAdaptersOnEightSlots_EveryZipfAcquisitionSucceedsWithItsOwnWeights()
    {
        for (int i = 0; i < Adapters; i++)
        {
            SyntheticAdapters.Write(root.File(Name(i)), rank: 1 + i % 4, seed: i, modules: [SyntheticAdapters.Q0, SyntheticAdapters.V1]);
        }

        var options = new AdapterStoreOptions { AdapterRoots = [root.Path], HostMaxAdapters = 64, DeviceSlots = Slots, MaxRank = 4 };
        using var store = new AdapterRegistry(options, SyntheticAdapters.Spec, torch.ScalarType.Float32);
        var targets = FakeLoraTarget.For(SyntheticAdapters.Spec);
        using var engine = new EngineThread();
        var table = await engine.RunAsync(() => new DeviceSlotTable(targets, Slots, options.MaxRank, torch.ScalarType.Float32, torch.CPU, store.Host));
        var held = new Queue<(AdapterLease Lease, int Slot)>();
        var sampler = new ZipfSampler(Adapters, exponent: 1.2, seed: 1234);
        int deviceLoads = 0;
        for (int request = 0; request < Acquisitions; request++)
        {
            string name = Name(sampler.Next());
            var lease = await store.AcquireHostAsync(name, CancellationToken.None);
            var adapter = lease.Adapter;

            var (acquired, slot, loadedNow) = await engine.RunAsync(() =>
            {
                bool ok = table.TryAcquire(adapter, out int slot, out bool loadedNow);
                if (ok)
                {
                    DeviceSlotTableTests.AssertSlotHolds(table, slot, adapter);
                }

                return (ok, slot, loadedNow);
            });

            Assert.True(acquired, $"acquisition {request} of {name}");
            Assert.Equal(name, adapter.Name);
            deviceLoads += loadedNow ? 1 : 0;
            held.Enqueue((lease, slot));
            if (held.Count > HeldAtOnce)
            {
                await Release(engine, store, table, held.Dequeue());
            }
        }

        while (held.Count > 0)
        {
            await Release(engine, store, table, held.Dequeue());
        }

        Assert.Equal(0, await engine.RunAsync(() => table.PinnedCount));
        Assert.InRange(deviceLoads, Slots + 1, Acquisitions - 1); // the tiers really were exercised, and reuse happened
        Assert.InRange(store.HostAdapterCount, Slots, options.HostMaxAdapters);
        await engine.RunAsync(table.Dispose);
        FakeLoraTarget.DisposeAll(targets);
    }

    private static async Task Release(EngineThread engine, AdapterRegistry store, DeviceSlotTable table, (AdapterLease Lease, int Slot) pinned)
    {
        await engine.RunAsync(() => table.Release(pinned.Slot));
        pinned.Lease.Dispose();
    }
    private static string Name(int index) => $"adapter-{index:D4}";

    /// <summary>P(k) ∝ k^-s over ranks 1..n, sampled by inverting the CDF with a seeded generator.</summary>
    private sealed class ZipfSampler
    {
        private readonly double[] cdf;
        private readonly Random random;

        public ZipfSampler(int n, double exponent, int seed)
        {
            cdf = new double[n];
            double sum = 0;
            for (int k = 1; k <= n; k++)
            {
                sum += Math.Pow(k, -exponent);
                cdf[k - 1] = sum;
            }

            for (int i = 0; i < n; i++)
            {
                cdf[i] /= sum;
            }

            random = new Random(seed);
        }

        public int Next()
        {
            int index = Array.BinarySearch(cdf, random.NextDouble());
            return Math.Min(index < 0 ? ~index : index, cdf.Length - 1);
        }
    }
}
