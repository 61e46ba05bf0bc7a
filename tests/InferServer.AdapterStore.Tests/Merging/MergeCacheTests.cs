using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Merging;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;
using InferServer.Kernels.Lora;
using TorchSharp;
using static InferServer.AdapterStore.Tests.SyntheticAdapters;

namespace InferServer.AdapterStore.Tests.Merging;

public sealed class MergeCacheTests : IDisposable
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
    public void MergedOutput_EqualsTheSlotPoolOutput_InEveryTargetedModule()
    {
        var adapter = NewAdapter("a", rank: 4, seed: 1, modules: [Q0, V0, V1]);
        using var table = new DeviceSlotTable(targets, 2, 8, torch.ScalarType.Float32, torch.CPU);
        using var merges = new MergeCache(targets, new AdapterStoreOptions());
        Assert.True(table.TryAcquire(adapter, out int slot, out _));
        using var scope = torch.NewDisposeScope();
        using var generator = new torch.Generator(7);
        var x = torch.randn([5, 16], generator: generator);
        using var batch = LoraBatch.Create([slot, slot, slot, slot, slot], torch.CPU);
        var unmerged = AllModules.ToDictionary(module => module, module => Target(module).Forward(x, batch));

        merges.Activate(adapter);

        foreach (string module in AllModules)
        {
            var merged = Target(module).Forward(x, null);
            Assert.True(merged.allclose(unmerged[module], rtol: 1e-5, atol: 1e-5), module);
        }

        Assert.Null(Target(Q1).Merged); // not targeted: plain W0
        Assert.Same(adapter, merges.Active);
    }

    [Fact]
    public void Deactivate_RestoresW0BitForBit()
    {
        var adapter = NewAdapter("a", rank: 8, seed: 2);
        using var merges = new MergeCache(targets, new AdapterStoreOptions());
        var originals = AllModules.ToDictionary(module => module, module => Target(module).Weight.clone());
        using var generator = new torch.Generator(8);
        using var x = torch.randn([3, 16], generator: generator);

        for (int round = 0; round < 3; round++)
        {
            merges.Activate(adapter);
            merges.Deactivate();
        }

        foreach (string module in AllModules)
        {
            Assert.Null(Target(module).Merged);
            TensorAssert.Identical(originals[module], Target(module).Weight, module);
            // The layer's own base product on W0 (few rows go through StreamingLinear, not libtorch's GEMM).
            using var expected = LoraOps.BaseLinear(x, originals[module], null);
            using var actual = Target(module).Forward(x, null);
            TensorAssert.Identical(expected, actual, module);
            originals[module].Dispose();
        }
    }

    [Fact]
    public void CachedMergedCopies_AreBoundedByMergeMaxAdapters()
    {
        var (a, b) = (NewAdapter("a", 4, 1), NewAdapter("b", 2, 2, modules: [Q0]));
        using var merges = new MergeCache(targets, new AdapterStoreOptions { MergeMaxAdapters = 1 });
        var events = new List<(AdapterEventKind, string)>();
        merges.Changed += (_, e) => events.Add((e.Kind, e.Name));

        merges.Activate(a);
        merges.Activate(b);

        Assert.Equal(1, merges.CachedCount);
        Assert.Equal(16 * 16 * 4, merges.MergedBytes);
        Assert.Null(Target(V0).Merged); // a's modules were restored when b took over
        Assert.NotNull(Target(Q0).Merged);
        Assert.Equal([(AdapterEventKind.Merged, "a"), (AdapterEventKind.Unmerged, "a"), (AdapterEventKind.Merged, "b")], events);
    }

    [Fact]
    public void AnAdapterIsHot_WhenItServedTheMinimumShareOfTheWindow()
    {
        using var merges = new MergeCache(targets, new AdapterStoreOptions { MergeWindow = 10, MergeMinShare = 0.5 });
        Record(merges, "a", 4);
        Assert.False(merges.IsHot("a")); // 4 of 10: a cold start does not merge

        Record(merges, "a", 1);
        Record(merges, "b", 5);
        Assert.True(merges.IsHot("a"));
        Assert.True(merges.IsHot("b"));

        Record(merges, null, 1); // the oldest "a" leaves the window
        Assert.False(merges.IsHot("a"));
        Assert.Equal(0.5, merges.ShareOf("b"));
    }

    [Fact]
    public void DisabledMerging_MakesNothingHot_AndRefusesToActivate()
    {
        using var merges = new MergeCache(targets, new AdapterStoreOptions { MergeEnabled = false, MergeWindow = 2 });
        Record(merges, "a", 2);

        Assert.False(merges.IsHot("a"));
        Assert.Throws<InvalidOperationException>(() => merges.Activate(NewAdapter("a", 2, 1)));
    }

    [Fact]
    public void TwoAdaptersAtTheThreshold_DoNotEvictEachOthersCopy()
    {
        var (a, b) = (NewAdapter("a", 4, 1), NewAdapter("b", 4, 2));
        using var merges = new MergeCache(targets, new AdapterStoreOptions { MergeWindow = 10, MergeMinShare = 0.5, MergeMaxAdapters = 1 });
        var merged = new List<string>();
        merges.Changed += (_, e) => { if (e.Kind == AdapterEventKind.Merged) merged.Add(e.Name); };
        Record(merges, "a", 5);
        Record(merges, "b", 5);

        for (int alternation = 0; alternation < 4; alternation++)
        {
            foreach (var adapter in new[] { a, b })
            {
                if (merges.ShouldMerge(adapter)) merges.Activate(adapter);
                else merges.Deactivate();
            }
        }

        Assert.True(merges.IsHot("b"));
        Assert.False(merges.ShouldMerge(b)); // a's copy is cached and a is still hot: b runs on the slot pool
        Assert.Equal(["a", "a", "a", "a"], merged); // a re-activated from its cached copy, never b merged over it
        Assert.Equal(1, merges.CachedCount);
    }

    [Fact]
    public void AMergedAdapter_StaysMergeableUntilItsShareFallsBelowTheCoolingThreshold()
    {
        var a = NewAdapter("a", 4, 1);
        using var merges = new MergeCache(targets, new AdapterStoreOptions { MergeWindow = 100, MergeMinShare = 0.5 });
        Record(merges, "a", 50);
        Assert.True(merges.ShouldMerge(a));
        merges.Activate(a);

        Record(merges, null, 60); // the window slides past 10 of a's requests: share 0.40, below MergeMinShare, above 0.75 of it
        Assert.False(merges.IsHot("a"));
        Assert.True(merges.ShouldMerge(a));

        Record(merges, null, 3); // share 0.37 < 0.375
        Assert.False(merges.ShouldMerge(a));
    }

    [Fact]
    public void ANewHotAdapter_TakesTheCachedCopysPlace_OnceItsAdapterHasCooled()
    {
        var (a, b) = (NewAdapter("a", 4, 1), NewAdapter("b", 4, 2));
        using var merges = new MergeCache(targets, new AdapterStoreOptions { MergeWindow = 10, MergeMinShare = 0.5, MergeMaxAdapters = 1 });
        Record(merges, "a", 10);
        merges.Activate(a);

        Record(merges, "b", 7); // a: 0.3 (cooled), b: 0.7 (hot)

        Assert.True(merges.ShouldMerge(b));
        Assert.False(merges.ShouldMerge(a));
    }

    [Fact]
    public void DisabledMerging_NeverMerges()
    {
        using var merges = new MergeCache(targets, new AdapterStoreOptions { MergeEnabled = false, MergeWindow = 2 });
        Record(merges, "a", 2);

        Assert.False(merges.ShouldMerge(NewAdapter("a", 2, 1)));
    }

    private static void Record(MergeCache merges, string? name, int times)
    {
        for (int i = 0; i < times; i++)
        {
            merges.RecordRequest(name);
        }
    }

    private FakeLoraTarget Target(string module) => (FakeLoraTarget)targets[module];

    private LoraAdapter NewAdapter(string name, int rank, int seed, IReadOnlyList<string>? modules = null)
    {
        var adapter = SyntheticAdapters.Load(root, name, rank, seed, modules);
        adapters.Add(adapter);
        return adapter;
    }
}
