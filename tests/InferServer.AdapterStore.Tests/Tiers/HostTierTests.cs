using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Tiers;

namespace InferServer.AdapterStore.Tests.Tiers;

/// <summary>Counts process-wide live tensors, so nothing else may run beside it.</summary>
[CollectionDefinition(nameof(HostTierTests), DisableParallelization = true)]
public sealed class HostTierCollection;

/// <summary>
/// The host tier on its own, driven the way the registry drives it: a copy per version, pinned by requests and device
/// slots, read in, retired by an unload; the tier counts, evicts and frees, and says so in its events.
/// </summary>
[Collection(nameof(HostTierTests))]
public sealed class HostTierTests : IDisposable
{
    private readonly TemporaryDirectory root = new();
    private readonly List<LoraAdapter> loaded = [];
    private readonly List<string> evicted = [];

    public void Dispose()
    {
        // Freed copies are already disposed; disposing a LoraAdapter twice is harmless.
        loaded.ForEach(adapter => adapter.Dispose());
        root.Dispose();
    }

    [Fact]
    public void Add_CountsTheBytesAndTheCopies_AndRaisesLoaded()
    {
        using var tier = NewTier(maxAdapters: 10, maxBytes: long.MaxValue);
        var events = new List<AdapterEvent>();
        tier.Changed += (_, adapterEvent) => events.Add(adapterEvent);
        var (a, b) = (Adapter("a", rank: 2), Adapter("b", rank: 4));

        Hold(tier, a);
        Hold(tier, b);

        Assert.Equal((2, a.TotalBytes + b.TotalBytes), (tier.Count, tier.Bytes));
        Assert.Equal([(AdapterEventKind.Loaded, "a", a.TotalBytes), (AdapterEventKind.Loaded, "b", b.TotalBytes)],
            events.Select(e => (e.Kind, e.Name, e.Bytes)));
        Assert.All(events, e => Assert.Equal(AdapterTier.Host, e.Tier));
    }

    [Fact]
    public void WithinBothBounds_NothingIsEvicted()
    {
        var (a, b) = (Adapter("a", rank: 2), Adapter("b", rank: 2));
        using var tier = NewTier(maxAdapters: 2, maxBytes: a.TotalBytes + b.TotalBytes);

        Hold(tier, a);
        Hold(tier, b);

        Assert.Empty(evicted);
        Assert.Equal(2, tier.Count);
    }

    [Fact]
    public void OverTheAdapterBound_EvictsTheLeastRecentlyUsedFirst()
    {
        using var tier = NewTier(maxAdapters: 2, maxBytes: long.MaxValue);

        Hold(tier, Adapter("a", rank: 2));
        Hold(tier, Adapter("b", rank: 2));
        Hold(tier, Adapter("c", rank: 2));
        Hold(tier, Adapter("d", rank: 2));

        Assert.Equal(["a", "b"], evicted);
        Assert.Equal(2, tier.Count);
    }

    [Fact]
    public void Touch_MakesACopyTheMostRecentlyUsed()
    {
        using var tier = NewTier(maxAdapters: 2, maxBytes: long.MaxValue);
        var a = Hold(tier, Adapter("a", rank: 2));
        Hold(tier, Adapter("b", rank: 2));

        tier.Touch(a);
        Hold(tier, Adapter("c", rank: 2));

        Assert.Equal(["b"], evicted);
    }

    [Fact]
    public void OverTheByteBound_EvictsInLruOrderUntilTheBytesFit_AndNoFurther()
    {
        var (a, b, c) = (Adapter("a", rank: 2), Adapter("b", rank: 2), Adapter("c", rank: 2));
        var big = Adapter("big", rank: 4);
        Assert.Equal(2 * a.TotalBytes, big.TotalBytes);
        using var tier = NewTier(maxAdapters: 10, maxBytes: 3 * a.TotalBytes);
        Hold(tier, a);
        Hold(tier, b);
        Hold(tier, c);

        Hold(tier, big);

        Assert.Equal(["a", "b"], evicted);
        Assert.Equal((2, 3 * a.TotalBytes), (tier.Count, tier.Bytes));
    }

    [Fact]
    public void OverTheByteBound_SkipsPinnedCopies_AndEvictsTheLeastRecentlyUsedUnpinnedOnes()
    {
        var (a, b, c) = (Adapter("a", rank: 2), Adapter("b", rank: 2), Adapter("c", rank: 2));
        var big = Adapter("big", rank: 4);
        using var tier = NewTier(maxAdapters: 10, maxBytes: 3 * a.TotalBytes);
        var pinned = Hold(tier, a);
        using var pin = tier.PinForRequest(pinned);
        Hold(tier, b);
        Hold(tier, c);

        Hold(tier, big);

        Assert.Equal(["b", "c"], evicted);
        Assert.Same(a, tier.StateOf(pinned).Adapter);
        Assert.Equal((2, 3 * a.TotalBytes), (tier.Count, tier.Bytes));
    }

    [Fact]
    public void PinnedCopies_AreNeverEvicted_TheNextUnpinnedOneIs()
    {
        using var tier = NewTier(maxAdapters: 2, maxBytes: long.MaxValue);
        var a = Adapter("a", rank: 2);
        var b = Adapter("b", rank: 2);
        using var requestPin = tier.PinForRequest(Hold(tier, a));
        Hold(tier, b);
        using var devicePin = tier.PinForDevice(b);

        // Both older copies are pinned, one by a request and one by a device slot: the new one is the only candidate.
        Hold(tier, Adapter("c", rank: 2));

        Assert.Equal(["c"], evicted);
        Assert.Equal((2, a.TotalBytes + b.TotalBytes), (tier.Count, tier.Bytes));
    }

    [Fact]
    public void OnlyPinnedCopiesLeft_TheTierStaysOverBudget()
    {
        using var tier = NewTier(maxAdapters: 1, maxBytes: 1);
        var (a, b) = (Adapter("a", rank: 2), Adapter("b", rank: 2));
        var (copyA, copyB) = (new HostCopy("a"), new HostCopy("b"));
        using var pinA = tier.PinForRequest(copyA);
        using var pinB = tier.PinForRequest(copyB);

        tier.Add(copyA, a);
        tier.Add(copyB, b);
        tier.RaisePendingEvents();

        Assert.Empty(evicted);
        Assert.Equal((2, a.TotalBytes + b.TotalBytes), (tier.Count, tier.Bytes));
        Assert.Equal(2, tier.RequestPins);
    }

    [Fact]
    public void ReleasedPin_MakesTheCopyEvictableAgain_AndASecondDisposeReleasesNothing()
    {
        using var tier = NewTier(maxAdapters: 1, maxBytes: long.MaxValue);
        var (a, b) = (Adapter("a", rank: 2), Adapter("b", rank: 2));
        var (copyA, copyB) = (new HostCopy("a"), new HostCopy("b"));
        var first = new AdapterLease(a, tier.PinForRequest(copyA).Dispose);
        var second = tier.PinForRequest(copyA);
        using var pinB = tier.PinForRequest(copyB);
        tier.Add(copyA, a);
        tier.Add(copyB, b);
        Assert.Empty(evicted);

        // Over budget all along: a double dispose of one pin must not take the other pin with it.
        first.Dispose();
        first.Dispose();
        Assert.Empty(evicted);
        Assert.Equal(2, tier.RequestPins);

        second.Dispose();
        second.Dispose();
        Assert.Equal(["a"], evicted);
        Assert.Equal((1, b.TotalBytes, 1), (tier.Count, tier.Bytes, tier.RequestPins));
    }

    [Fact]
    public void RetiredCopy_IsStillCountedWhilePinned_ButNeverEvicted()
    {
        using var tier = NewTier(maxAdapters: 1, maxBytes: long.MaxValue);
        var retired = Adapter("retired", rank: 2);
        var copy = Hold(tier, retired);
        using var pin = tier.PinForRequest(copy);
        tier.Retire(copy);

        Hold(tier, Adapter("current", rank: 2));

        Assert.Equal(["current"], evicted);
        Assert.Equal((1, retired.TotalBytes), (tier.Count, tier.Bytes));
        Assert.True(tier.IsRetired(retired));
        // Touching a copy the LRU does not hold must not put it back.
        tier.Touch(copy);
        Hold(tier, Adapter("next", rank: 2));
        Assert.Equal(["current", "next"], evicted);
    }

    [Fact]
    public void UnpinOfAnUnloadedCopy_FreesItExactlyOnce()
    {
        using var tier = NewTier(maxAdapters: 10, maxBytes: long.MaxValue);
        long before = LiveTensors.Settled();
        var adapter = Adapter("a", rank: 2);
        var copy = new HostCopy("a");
        var request = tier.PinForRequest(copy);
        // Unloaded while it was still being read: the landing read keeps it for the request that pinned it.
        tier.Retire(copy);
        Assert.False(tier.Add(copy, adapter));
        var device = tier.PinForDevice(adapter);

        request.Dispose();
        Assert.Equal((1, adapter.TotalBytes), (tier.Count, tier.Bytes)); // the device slot still pins it
        device.Dispose();
        device.Dispose();
        request.Dispose();

        Assert.Equal(["a"], evicted);
        Assert.Equal((0, 0L, 0), (tier.Count, tier.Bytes, tier.RequestPins));
        Assert.Null(tier.StateOf(copy).Adapter);
        Assert.Equal(before, LiveTensors.Now);
    }

    [Fact]
    public void RetiringAnUnpinnedCopy_FreesItAtOnce_AndARetiredReadLandingUnpinnedIsFreedToo()
    {
        using var tier = NewTier(maxAdapters: 10, maxBytes: long.MaxValue);
        var idle = Hold(tier, Adapter("idle", rank: 2));
        var unread = new HostCopy("unread");

        tier.Retire(idle);
        tier.Retire(unread);
        tier.Add(unread, Adapter("unread", rank: 2));
        tier.RaisePendingEvents();

        Assert.Equal(["idle", "unread"], evicted);
        Assert.Equal((0, 0L), (tier.Count, tier.Bytes));
        Assert.Equal(2, tier.Retirements);
    }

    [Fact]
    public void EvictedCopy_GoesBackToDisk_SoTheNextReadStartsAgain()
    {
        using var tier = NewTier(maxAdapters: 1, maxBytes: long.MaxValue);
        var copy = new HostCopy("a");
        int reads = 0;
        Task<LoraAdapter> StartRead()
        {
            reads++;
            return new TaskCompletionSource<LoraAdapter>().Task;
        }

        var first = tier.Read(copy, StartRead);
        Assert.Same(first, tier.Read(copy, StartRead)); // concurrent requests share one read
        tier.Add(copy, Adapter("a", rank: 2));
        Assert.Equal(AdapterTier.Host, tier.StateOf(copy).Tier);
        Hold(tier, Adapter("b", rank: 2));
        Assert.Equal(["a"], evicted);

        Assert.Equal(AdapterTier.Disk, tier.StateOf(copy).Tier);
        tier.Read(copy, StartRead);
        Assert.Equal(2, reads);
    }

    [Fact]
    public void DeviceAndMergedState_AreTheCopysTier_AndAnUnknownAdapterIsRetired()
    {
        using var tier = NewTier(maxAdapters: 10, maxBytes: long.MaxValue);
        var adapter = Adapter("a", rank: 2);
        var copy = Hold(tier, adapter);

        using (tier.PinForDevice(adapter))
        {
            Assert.Equal(AdapterTier.Device, tier.StateOf(copy).Tier);
            tier.MergedChanged(adapter, merged: true);
            Assert.Equal(AdapterTier.Merged, tier.StateOf(copy).Tier);
            tier.MergedChanged(adapter, merged: false);
        }

        Assert.Equal(AdapterTier.Host, tier.StateOf(copy).Tier);
        Assert.False(tier.IsRetired(adapter));
        var stranger = Adapter("stranger", rank: 2);
        Assert.True(tier.IsRetired(stranger));
        Assert.Throws<InvalidOperationException>(() => tier.PinForDevice(stranger));
    }

    [Fact]
    public void Dispose_FreesPinnedCopiesToo_AndTheirLaterUnpinsFreeNothingAgain()
    {
        var tier = NewTier(maxAdapters: 10, maxBytes: long.MaxValue);
        long before = LiveTensors.Settled();
        var adapter = Adapter("a", rank: 2);
        var pin = tier.PinForRequest(Hold(tier, adapter));

        tier.Dispose();
        pin.Dispose();
        tier.Dispose();

        Assert.Equal(["a"], evicted);
        Assert.Equal((0, 0L, 0), (tier.Count, tier.Bytes, tier.RequestPins));
        Assert.Equal(before, LiveTensors.Now);
    }

    [Fact]
    public void Eviction_FreesTheEvictedCopiesTensors()
    {
        using var tier = NewTier(maxAdapters: 1, maxBytes: long.MaxValue);
        long before = LiveTensors.Settled();
        var kept = Adapter("kept", rank: 2);
        Hold(tier, Adapter("a", rank: 2));
        Hold(tier, Adapter("b", rank: 4));

        Hold(tier, kept);

        Assert.Equal(["a", "b"], evicted);
        // Each module of a synthetic adapter holds two tensors, A and B.
        Assert.Equal(before + 2 * kept.Modules.Count, LiveTensors.Now);
        Assert.Equal((1, kept.TotalBytes), (tier.Count, tier.Bytes));
    }

    private HostTier NewTier(int maxAdapters, long maxBytes)
    {
        var tier = new HostTier(maxAdapters, maxBytes);
        tier.Changed += (_, adapterEvent) =>
        {
            if (adapterEvent.Kind == AdapterEventKind.Evicted)
            {
                evicted.Add(adapterEvent.Name);
            }
        };
        return tier;
    }

    /// <summary>What the registry does when a read lands: the copy is added as current, then queued events are raised.</summary>
    private static HostCopy Hold(HostTier tier, LoraAdapter adapter)
    {
        var copy = new HostCopy(adapter.Name);
        Assert.True(tier.Add(copy, adapter));
        tier.RaisePendingEvents();
        return copy;
    }

    private LoraAdapter Adapter(string name, int rank)
    {
        var adapter = SyntheticAdapters.Load(root, name, rank, seed: loaded.Count);
        loaded.Add(adapter);
        return adapter;
    }
}
