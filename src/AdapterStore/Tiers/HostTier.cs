using InferServer.AdapterStore.Peft;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferServer.AdapterStore.Tiers;

/// <summary>
/// The host tier (vLLM's <c>LRUCacheWorkerLoRAManager</c> CPU cache, S-LoRA's host pool): the adapter copies held in host
/// memory, the pins that keep them there, and an LRU of the copies that may be evicted, bounded by
/// <see cref="Configuration.AdapterStoreOptions.HostMaxAdapters"/> and <see cref="Configuration.AdapterStoreOptions.HostMaxBytes"/>.
/// It owns the copies' memory: it counts, evicts and frees each copy, exactly once. The device tier beside it is
/// <see cref="DeviceSlotTable"/>, which pins copies through <see cref="IAdapterResidency"/>.
/// </summary>
/// <remarks>
/// <para>
/// Pins. A request pins a copy (<see cref="PinForRequest"/>) before waiting for it to be read, so that it cannot be evicted
/// between the read finishing and the request using it, and a device slot pins it while resident
/// (<see cref="PinForDevice"/>). Each pin is a <see cref="HostPin"/>, released once. A pinned copy is never evicted or
/// freed; the bounds are then exceeded until the pins go, since failing a running request would be worse than a soft limit.
/// </para>
/// <para>
/// Retired copies (unloaded, or replaced by a reload) leave the LRU: they are never evicted, and their last unpin frees
/// them (drain). Every held copy is counted, pinned and draining ones too.
/// </para>
/// <para>
/// Thread-safe under its own lock, and it never calls up into its owner, the registry, which may call it while holding its
/// own lock. Events are queued under the lock and raised after it: by the public calls themselves, and for the owner's
/// calls by the owner's <see cref="RaisePendingEvents"/>, once it has released its own lock, so a handler may call back in.
/// </para>
/// </remarks>
public sealed partial class HostTier : IAdapterResidency, IDisposable
{
    private readonly object gate = new();
    private readonly int maxAdapters;
    private readonly long maxBytes;
    private readonly ILogger logger;
    private readonly AdapterEventQueue events;
    // Least recently used first: held copies of current versions, the evictable ones when unpinned.
    private readonly LinkedList<HostCopy> lru = new();
    private readonly Dictionary<LoraAdapter, HostCopy> copiesByAdapter = new(ReferenceEqualityComparer.Instance);
    private long bytes;
    private int count;
    private int requestPins;
    private long retirements;
    private bool disposed;

    /// <param name="maxAdapters">Copies held before the least recently used unpinned ones are evicted.</param>
    /// <param name="maxBytes">Bytes held before the least recently used unpinned copies are evicted.</param>
    /// <param name="logger">Evictions and failing event handlers; the registry passes its own, so they read as the store's.</param>
    public HostTier(int maxAdapters, long maxBytes, ILogger? logger = null)
    {
        this.maxAdapters = maxAdapters;
        this.maxBytes = maxBytes;
        this.logger = logger ?? NullLogger.Instance;
        events = new AdapterEventQueue(this.logger);
    }

    /// <summary>Copies read in (Loaded, tier Host) and freed, by eviction or after a drain (Evicted, tier Host).</summary>
    public event EventHandler<AdapterEvent>? Changed;

    /// <summary>Bytes of every adapter tensor held in host memory, pinned and draining copies included.</summary>
    public long Bytes
    {
        get
        {
            lock (gate)
            {
                return bytes;
            }
        }
    }

    /// <summary>Copies held in host memory, pinned and draining ones included.</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return count;
            }
        }
    }

    /// <summary>Pins requests (and admin loads) hold now; 0 when no request is in flight.</summary>
    public int RequestPins
    {
        get
        {
            lock (gate)
            {
                return requestPins;
            }
        }
    }

    /// <summary>Copies retired so far; see <see cref="Retire"/>.</summary>
    public long Retirements => Interlocked.Read(ref retirements);

    /// <inheritdoc/>
    public IDisposable PinForDevice(LoraAdapter adapter)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        lock (gate)
        {
            var copy = copiesByAdapter.TryGetValue(adapter, out var held)
                ? held
                : throw new InvalidOperationException($"Adapter '{adapter.Name}' is not held by this store (never acquired from it, or already freed).");
            copy.DevicePins++;
            return new HostPin(this, copy, device: true);
        }
    }

    /// <inheritdoc/>
    public void MergedChanged(LoraAdapter adapter, bool merged)
    {
        lock (gate)
        {
            if (copiesByAdapter.TryGetValue(adapter, out var copy))
            {
                copy.Merged = merged;
            }
        }
    }

    /// <inheritdoc/>
    public bool IsRetired(LoraAdapter adapter)
    {
        lock (gate)
        {
            return !copiesByAdapter.TryGetValue(adapter, out var copy) || copy.Retired;
        }
    }

    /// <summary>Frees every copy, pinned or not: call it at shutdown, after the device tier let go. Later unpins free nothing.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            foreach (var copy in copiesByAdapter.Values.ToList())
            {
                Free(copy);
            }
        }
    }

    /// <summary>Pins <paramref name="copy"/> for one request, held or not yet read; the pin's dispose is its only release.</summary>
    internal HostPin PinForRequest(HostCopy copy)
    {
        lock (gate)
        {
            copy.RequestPins++;
            requestPins++;
        }

        return new HostPin(this, copy, device: false);
    }

    /// <summary>
    /// The held adapter of <paramref name="copy"/>, else the read already running, else a read begun by
    /// <paramref name="startRead"/> (on disk, after a failed read, or after an eviction). Concurrent callers share one read.
    /// </summary>
    internal Task<LoraAdapter> Read(HostCopy copy, Func<Task<LoraAdapter>> startRead)
    {
        lock (gate)
        {
            return copy.Adapter is { } held ? Task.FromResult(held) : copy.Load ??= startRead();
        }
    }

    /// <summary>The read failed: the next <see cref="Read"/> tries again, e.g. after the directory was fixed.</summary>
    internal void ReadFailed(HostCopy copy)
    {
        lock (gate)
        {
            copy.Load = null;
        }
    }

    /// <summary>
    /// Holds <paramref name="adapter"/>, just read for <paramref name="copy"/>, and counts it. A current copy becomes the most
    /// recently used and the tier evicts what is over budget; true. A copy retired while it was read (or read after
    /// <see cref="Dispose"/>) is never evicted: freed now if unpinned, else by its last unpin; false.
    /// </summary>
    internal bool Add(HostCopy copy, LoraAdapter adapter)
    {
        lock (gate)
        {
            copy.Adapter = adapter;
            copiesByAdapter.Add(adapter, copy);
            bytes += adapter.TotalBytes;
            count++;
            events.Add(new AdapterEvent(AdapterEventKind.Loaded, adapter.Name, AdapterTier.Host, adapter.TotalBytes));
            if (disposed || copy.Retired)
            {
                if (copy.Pins == 0)
                {
                    Free(copy);
                }

                return false;
            }

            copy.LruNode = lru.AddLast(copy);
            EvictOverBudget();
            return true;
        }
    }

    /// <summary>Marks a held current copy most recently used; does nothing for a retired, evicted or unread one.</summary>
    internal void Touch(HostCopy copy)
    {
        lock (gate)
        {
            if (copy.LruNode is { } node)
            {
                lru.Remove(node);
                lru.AddLast(node);
            }
        }
    }

    /// <summary>
    /// Retires <paramref name="copy"/> (unloaded, or replaced by a reload): out of the LRU, freed now if unpinned, else by its
    /// last unpin; a read still running is freed when it lands (<see cref="Add"/>).
    /// </summary>
    internal void Retire(HostCopy copy)
    {
        lock (gate)
        {
            copy.Retired = true;
            Interlocked.Increment(ref retirements);
            Untrack(copy);
            if (copy.Pins == 0)
            {
                Free(copy);
            }
        }
    }

    /// <summary>One consistent look at <paramref name="copy"/>: its held adapter (null on disk), its hottest tier and its pins.</summary>
    internal (LoraAdapter? Adapter, AdapterTier Tier, int Pins) StateOf(HostCopy copy)
    {
        lock (gate)
        {
            var tier = copy.Merged ? AdapterTier.Merged
                : copy.DevicePins > 0 ? AdapterTier.Device
                : copy.Adapter is not null ? AdapterTier.Host
                : AdapterTier.Disk;
            return (copy.Adapter, tier, copy.Pins);
        }
    }

    /// <summary>Releases one pin (from <see cref="HostPin"/>, which calls it once); the last frees a retired copy or lets eviction take it.</summary>
    internal void Unpin(HostCopy copy, bool device)
    {
        lock (gate)
        {
            if (device)
            {
                copy.DevicePins--;
            }
            else
            {
                copy.RequestPins--;
                requestPins--;
            }

            if (copy.Pins == 0 && copy.Adapter is not null)
            {
                if (copy.Retired || disposed)
                {
                    Free(copy);
                }
                else
                {
                    EvictOverBudget();
                }
            }
        }

        RaisePendingEvents();
    }

    /// <summary>Raises queued events outside the lock, so handlers may call back in; handlers that throw are logged.</summary>
    internal void RaisePendingEvents() => events.Raise(this, Changed);

    /// <summary>Evicts least recently used unpinned copies until both bounds hold (or only pinned copies are left). Caller holds the lock.</summary>
    private void EvictOverBudget()
    {
        var node = lru.First;
        while (node is not null && (count > maxAdapters || bytes > maxBytes))
        {
            var next = node.Next;
            var copy = node.Value;
            if (copy.Pins == 0)
            {
                copy.Load = null; // back to tier Disk: the next request reads it again
                LogEvicted(copy.Name, copy.Adapter!.TotalBytes);
                Free(copy);
            }

            node = next;
        }
    }

    private void Untrack(HostCopy copy)
    {
        if (copy.LruNode is { } node)
        {
            lru.Remove(node);
            copy.LruNode = null;
        }
    }

    /// <summary>
    /// Disposes a copy's tensors and stops counting it. Caller holds the lock; the copy has no pins (or the tier is
    /// disposed). Nulling the adapter first makes a second call a no-op, so no copy is freed twice.
    /// </summary>
    private void Free(HostCopy copy)
    {
        if (copy.Adapter is not { } adapter)
        {
            return;
        }

        copy.Adapter = null;
        Untrack(copy);
        copiesByAdapter.Remove(adapter);
        bytes -= adapter.TotalBytes;
        count--;
        adapter.Dispose();
        events.Add(new AdapterEvent(AdapterEventKind.Evicted, adapter.Name, AdapterTier.Host, adapter.TotalBytes));
    }
}
