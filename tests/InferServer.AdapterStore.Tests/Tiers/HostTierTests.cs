using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Tiers;

namespace InferServer.AdapterStore.Tests.Tiers;

/// <summary>Counts process-wide live tensors, so nothing else may run beside it.</summary>
[CollectionDefinition(nameof(HostTierTests), DisableParallelization = true)]
public sealed class HostTierCollection;

/// <summary>
/// The host tier on its own, driven the way the registry drives it: count a copy read in, track it, evict over budget
/// with a callback that frees the copy. Pins are the owner's predicate, as a lease's pin is the registry's.
/// </summary>
[Collection(nameof(HostTierTests))]
public sealed class HostTierTests : IDisposable
{
    private readonly TemporaryDirectory root = new();
    private readonly List<LoraAdapter> loaded = [];

    public void Dispose()
    {
        // Evicted copies are already disposed; disposing a LoraAdapter twice is harmless.
        loaded.ForEach(adapter => adapter.Dispose());
        root.Dispose();
    }

    [Fact]
    public void AddedAndFreed_KeepTheBytesAndTheCountOfEveryHeldCopy()
    {
        var tier = new HostTier(maxAdapters: 10, maxBytes: long.MaxValue);
        var a = Adapter("a", rank: 2);
        var b = Adapter("b", rank: 4);

        tier.Added(a);
        tier.Added(b);
        Assert.Equal((2, a.TotalBytes + b.TotalBytes), (tier.Count, tier.Bytes));

        tier.Freed(a);
        Assert.Equal((1, b.TotalBytes), (tier.Count, tier.Bytes));
    }

    [Fact]
    public void WithinBothBounds_NothingIsEvicted()
    {
        var (a, b) = (Adapter("a", rank: 2), Adapter("b", rank: 2));
        var owner = new Owner(maxAdapters: 2, maxBytes: a.TotalBytes + b.TotalBytes);

        owner.Add(a);
        owner.Add(b);

        Assert.Empty(owner.Evicted);
        Assert.Equal(2, owner.Tier.Count);
    }

    [Fact]
    public void OverTheAdapterBound_EvictsTheLeastRecentlyUsedFirst()
    {
        var owner = new Owner(maxAdapters: 2, maxBytes: long.MaxValue);

        owner.Add(Adapter("a", rank: 2));
        owner.Add(Adapter("b", rank: 2));
        owner.Add(Adapter("c", rank: 2));
        owner.Add(Adapter("d", rank: 2));

        Assert.Equal(["a", "b"], owner.Evicted);
        Assert.Equal(2, owner.Tier.Count);
    }

    [Fact]
    public void Touch_MakesACopyTheMostRecentlyUsed()
    {
        var owner = new Owner(maxAdapters: 2, maxBytes: long.MaxValue);
        var a = Adapter("a", rank: 2);
        owner.Add(a);
        owner.Add(Adapter("b", rank: 2));

        owner.Tier.Touch(a);
        owner.Add(Adapter("c", rank: 2));

        Assert.Equal(["b"], owner.Evicted);
    }

    [Fact]
    public void OverTheByteBound_EvictsInLruOrderUntilTheBytesFit_AndNoFurther()
    {
        var (a, b, c) = (Adapter("a", rank: 2), Adapter("b", rank: 2), Adapter("c", rank: 2));
        var big = Adapter("big", rank: 4);
        Assert.Equal(2 * a.TotalBytes, big.TotalBytes);
        var owner = new Owner(maxAdapters: 10, maxBytes: 3 * a.TotalBytes);
        owner.Add(a);
        owner.Add(b);
        owner.Add(c);

        owner.Add(big);

        Assert.Equal(["a", "b"], owner.Evicted);
        Assert.Equal((2, 3 * a.TotalBytes), (owner.Tier.Count, owner.Tier.Bytes));
    }

    [Fact]
    public void PinnedCopies_AreNeverEvicted_TheNextUnpinnedOneIs()
    {
        var owner = new Owner(maxAdapters: 2, maxBytes: long.MaxValue);
        var a = Adapter("a", rank: 2);
        owner.Add(a);
        owner.Pin(a);
        owner.Add(Adapter("b", rank: 2));

        owner.Add(Adapter("c", rank: 2));

        Assert.Equal(["b"], owner.Evicted);
    }

    [Fact]
    public void OnlyPinnedCopiesLeft_TheTierStaysOverBudget()
    {
        var owner = new Owner(maxAdapters: 1, maxBytes: 1);
        var a = Adapter("a", rank: 2);
        var b = Adapter("b", rank: 2);
        owner.Pin(a);
        owner.Pin(b);

        owner.Add(a);
        owner.Add(b);

        Assert.Empty(owner.Evicted);
        Assert.Equal((2, a.TotalBytes + b.TotalBytes), (owner.Tier.Count, owner.Tier.Bytes));
    }

    [Fact]
    public void ReleasedLease_MakesTheCopyEvictableAgain_AndASecondDisposeReleasesNothing()
    {
        var owner = new Owner(maxAdapters: 1, maxBytes: long.MaxValue);
        var a = Adapter("a", rank: 2);
        var b = Adapter("b", rank: 2);
        var first = owner.Pin(a);
        var second = owner.Pin(a);
        owner.Add(a);
        owner.Pin(b);
        owner.Add(b);
        Assert.Empty(owner.Evicted);

        // Over budget all along: a double dispose of one lease must not take the other lease's pin with it.
        first.Dispose();
        first.Dispose();
        Assert.Empty(owner.Evicted);

        second.Dispose();
        Assert.Equal(["a"], owner.Evicted);
        Assert.Equal((1, b.TotalBytes), (owner.Tier.Count, owner.Tier.Bytes));
    }

    [Fact]
    public void UntrackedCopy_IsStillCounted_ButNeverEvicted()
    {
        var owner = new Owner(maxAdapters: 1, maxBytes: long.MaxValue);
        var retired = Adapter("retired", rank: 2);
        owner.Add(retired);
        owner.Tier.Untrack(retired);

        owner.Add(Adapter("current", rank: 2));

        Assert.Equal(["current"], owner.Evicted);
        Assert.Equal((1, retired.TotalBytes), (owner.Tier.Count, owner.Tier.Bytes));
        // Touching a copy the tier does not track must not start tracking it.
        owner.Tier.Touch(retired);
        owner.EvictOverBudget();
        Assert.Equal(["current"], owner.Evicted);
    }

    [Fact]
    public void EvictedCopy_IsForgotten_TouchingOrUntrackingItChangesNothing()
    {
        var owner = new Owner(maxAdapters: 1, maxBytes: long.MaxValue);
        var a = Adapter("a", rank: 2);
        owner.Add(a);
        owner.Add(Adapter("b", rank: 2));
        Assert.Equal(["a"], owner.Evicted);

        owner.Tier.Touch(a);
        owner.Tier.Untrack(a);
        owner.Add(Adapter("c", rank: 2));

        Assert.Equal(["a", "b"], owner.Evicted);
    }

    [Fact]
    public void Clear_ForgetsEveryTrackedCopy_SoNoneIsEvicted()
    {
        var owner = new Owner(maxAdapters: 1, maxBytes: long.MaxValue);
        owner.Add(Adapter("a", rank: 2));
        owner.Tier.Clear();

        owner.Tier.Added(Adapter("b", rank: 2));
        owner.EvictOverBudget();

        Assert.Empty(owner.Evicted);
        Assert.Equal(2, owner.Tier.Count);
    }

    [Fact]
    public void Eviction_FreesTheEvictedCopiesTensors()
    {
        var owner = new Owner(maxAdapters: 1, maxBytes: long.MaxValue);
        long before = LiveTensors.Settled();
        var kept = Adapter("kept", rank: 2);
        owner.Add(Adapter("a", rank: 2));
        owner.Add(Adapter("b", rank: 4));

        owner.Add(kept);

        Assert.Equal(["a", "b"], owner.Evicted);
        // Each module of a synthetic adapter holds two tensors, A and B.
        Assert.Equal(before + 2 * kept.Modules.Count, LiveTensors.Now);
        Assert.Equal((1, kept.TotalBytes), (owner.Tier.Count, owner.Tier.Bytes));
    }

    private LoraAdapter Adapter(string name, int rank)
    {
        var adapter = SyntheticAdapters.Load(root, name, rank, seed: loaded.Count);
        loaded.Add(adapter);
        return adapter;
    }

    /// <summary>What the registry does around the tier: counts and tracks each copy read in, then evicts by freeing.</summary>
    private sealed class Owner(int maxAdapters, long maxBytes)
    {
        private readonly Dictionary<LoraAdapter, int> pins = new(ReferenceEqualityComparer.Instance);

        public HostTier Tier { get; } = new(maxAdapters, maxBytes);

        public List<string> Evicted { get; } = [];

        public void Add(LoraAdapter adapter)
        {
            Tier.Added(adapter);
            Tier.Track(adapter);
            EvictOverBudget();
        }

        /// <summary>A request's pin, released by the lease as the registry's is: the release then evicts what is over budget.</summary>
        public AdapterLease Pin(LoraAdapter adapter)
        {
            pins[adapter] = pins.GetValueOrDefault(adapter) + 1;
            return new AdapterLease(adapter, () =>
            {
                pins[adapter]--;
                EvictOverBudget();
            });
        }

        public void EvictOverBudget() => Tier.EvictOverBudget(adapter => pins.GetValueOrDefault(adapter) > 0, adapter =>
        {
            Evicted.Add(adapter.Name);
            Tier.Freed(adapter);
            adapter.Dispose();
        });
    }
}
