using InferServer.AdapterStore.Peft;

namespace InferServer.AdapterStore.Tiers;

/// <summary>
/// One adapter version's place in the <see cref="HostTier"/>: on disk, being read, or held in host memory, with the pins
/// that keep it there. The registry creates one per version and hands it to the tier; only the tier reads or changes
/// it, under the tier's lock.
/// </summary>
internal sealed class HostCopy(string name)
{
    /// <summary>The adapter's registered name, for events and messages.</summary>
    public string Name { get; } = name;

    /// <summary>The shared in-flight (or finished) read; null on disk, after a failure, or after an eviction.</summary>
    public Task<LoraAdapter>? Load { get; set; }

    /// <summary>The host copy; null until read, and again once freed.</summary>
    public LoraAdapter? Adapter { get; set; }

    /// <summary>Requests (and admin loads) waiting for or using the copy.</summary>
    public int RequestPins { get; set; }

    /// <summary>1 while a device slot holds the copy.</summary>
    public int DevicePins { get; set; }

    public int Pins => RequestPins + DevicePins;

    public bool Merged { get; set; }

    /// <summary>Unloaded or replaced by a reload: never evicted, freed by its last unpin.</summary>
    public bool Retired { get; set; }

    /// <summary>Its place in the tier's LRU while it is held, current and so evictable; null otherwise.</summary>
    public LinkedListNode<HostCopy>? LruNode { get; set; }
}
