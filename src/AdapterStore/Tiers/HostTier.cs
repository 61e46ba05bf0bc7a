using InferServer.AdapterStore.Peft;

namespace InferServer.AdapterStore.Tiers;

/// <summary>
/// The host tier (vLLM's <c>LRUCacheWorkerLoRAManager</c> CPU cache, S-LoRA's host pool): the adapters held in host memory,
/// their total bytes, and an LRU of the copies that may be evicted, bounded by
/// <see cref="Configuration.AdapterStoreOptions.HostMaxAdapters"/> and <see cref="Configuration.AdapterStoreOptions.HostMaxBytes"/>.
/// The device tier beside it is <see cref="DeviceSlotTable"/>.
/// </summary>
/// <remarks>
/// Not thread-safe: its owner, the registry, calls it under its own lock and decides what a copy's pins are and what
/// evicting one means (<see cref="EvictOverBudget"/> asks it). Every held copy is counted, pinned and draining ones too;
/// only copies of current versions are in the LRU (a retired version is untracked and freed by its last unpin).
/// </remarks>
internal sealed class HostTier(int maxAdapters, long maxBytes)
{
    // Least recently used first.
    private readonly LinkedList<LoraAdapter> lru = new();
    private readonly Dictionary<LoraAdapter, LinkedListNode<LoraAdapter>> nodes = new(ReferenceEqualityComparer.Instance);

    /// <summary>Bytes of every adapter tensor held in host memory.</summary>
    public long Bytes { get; private set; }

    /// <summary>Adapters held in host memory.</summary>
    public int Count { get; private set; }

    /// <summary>Counts a copy that was just read into host memory.</summary>
    public void Added(LoraAdapter adapter)
    {
        Bytes += adapter.TotalBytes;
        Count++;
    }

    /// <summary>Stops counting a copy whose tensors are being freed.</summary>
    public void Freed(LoraAdapter adapter)
    {
        Bytes -= adapter.TotalBytes;
        Count--;
    }

    /// <summary>Makes a copy evictable, as the most recently used.</summary>
    public void Track(LoraAdapter adapter) => nodes.Add(adapter, lru.AddLast(adapter));

    /// <summary>Marks a tracked copy most recently used; does nothing for an untracked one.</summary>
    public void Touch(LoraAdapter adapter)
    {
        if (nodes.TryGetValue(adapter, out var node))
        {
            lru.Remove(node);
            lru.AddLast(node);
        }
    }

    /// <summary>Takes a copy out of the LRU (retired): it is never evicted, only freed by its owner.</summary>
    public void Untrack(LoraAdapter adapter)
    {
        if (nodes.Remove(adapter, out var node))
        {
            lru.Remove(node);
        }
    }

    /// <summary>Forgets every tracked copy (shutdown; the owner frees them).</summary>
    public void Clear()
    {
        lru.Clear();
        nodes.Clear();
    }

    /// <summary>
    /// Evicts least recently used unpinned copies until both bounds hold (or only pinned copies are left): each is
    /// untracked and handed to <paramref name="evict"/>, which must free it (and so call <see cref="Freed"/>).
    /// </summary>
    public void EvictOverBudget(Func<LoraAdapter, bool> pinned, Action<LoraAdapter> evict)
    {
        var node = lru.First;
        while (node is not null && (Count > maxAdapters || Bytes > maxBytes))
        {
            var next = node.Next;
            var adapter = node.Value;
            if (!pinned(adapter))
            {
                lru.Remove(node);
                nodes.Remove(adapter);
                evict(adapter);
            }

            node = next;
        }
    }
}
