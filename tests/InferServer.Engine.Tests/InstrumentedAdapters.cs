using System.Collections.Concurrent;
using InferServer.AdapterStore;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;
using InferServer.Engine;

namespace InferServer.Engine.Tests;

/// <summary>
/// The real <see cref="StoreAdapters"/> with a hand on each call: loads that wait for a gate, slot writes and merges
/// that throw, and counts of what the engine asked for. For driving the engine's failure paths on purpose.
/// </summary>
public sealed class InstrumentedAdapters(IEngineAdapters inner) : IEngineAdapters
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> gates = new(StringComparer.Ordinal);
    private int recordedRequests;
    private int slotAcquisitions;
    // Slot pins as this wrapper saw them acquired and released, and what was written; guarded by pinsBySlot.
    private readonly Dictionary<int, int> pinsBySlot = [];
    private readonly List<string> slotWrites = [];
    private int slotsRewrittenWhilePinned;
    private int mostSlotsPinned;

    /// <summary>Adapters whose slot writes throw (as a device copy that runs out of memory would).</summary>
    public ConcurrentDictionary<string, bool> FailingSlotWrites { get; } = new(StringComparer.Ordinal);

    /// <summary>When set, every PrepareMerged call throws (a broken merge path, or a bug in it).</summary>
    public bool FailEveryMerge { get; set; }

    /// <summary>When set, merging an adapter throws but restoring W0 works (a merge that runs out of memory).</summary>
    public bool FailMergingAdapters { get; set; }

    /// <summary>When set, every FreeRetired call throws: a failure at the start of every turn, in either mode.</summary>
    public bool FailEveryFreeRetired { get; set; }

    public int RecordedRequests => Volatile.Read(ref recordedRequests);

    public int SlotAcquisitions => Volatile.Read(ref slotAcquisitions);

    /// <summary>Loads of <paramref name="name"/> wait until <see cref="OpenGate"/> (a hung file system).</summary>
    public void CloseGate(string name) => gates[name] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void OpenGate(string name)
    {
        if (gates.TryRemove(name, out var gate))
            gate.TrySetResult();
    }

    public int DeviceSlots => inner.DeviceSlots;

    public AdapterResidency Residency => inner.Residency;

    public void EnsureRegistered(string name) => inner.EnsureRegistered(name);

    /// <summary>Adapters whose pin fails at once (as an unload racing the request's registration check does).</summary>
    public ConcurrentDictionary<string, bool> FailingPins { get; } = new(StringComparer.Ordinal);

    public Task<AdapterLease> PinHostAsync(string name, CancellationToken cancellationToken) =>
        FailingPins.ContainsKey(name)
            ? Task.FromException<AdapterLease>(new AdapterNotFoundException(name))
            : PinAfterGateAsync(name, cancellationToken);

    private async Task<AdapterLease> PinAfterGateAsync(string name, CancellationToken cancellationToken)
    {
        if (gates.TryGetValue(name, out var gate))
            await gate.Task.WaitAsync(cancellationToken);
        return await inner.PinHostAsync(name, cancellationToken);
    }

    public bool TryAcquireSlot(LoraAdapter adapter, out int slot, out bool writtenNow)
    {
        Interlocked.Increment(ref slotAcquisitions);
        if (FailingSlotWrites.ContainsKey(adapter.Name))
            throw new InvalidOperationException($"injected: writing {adapter.Name} into a device slot failed");
        if (!inner.TryAcquireSlot(adapter, out slot, out writtenNow))
            return false;
        lock (pinsBySlot)
        {
            var pins = pinsBySlot.GetValueOrDefault(slot);
            if (writtenNow)
            {
                slotWrites.Add(adapter.Name);
                // Every row of a step belongs to a request pinning its slot: a write over a pinned slot swaps an adapter
                // under a step that uses it.
                if (pins > 0)
                    slotsRewrittenWhilePinned++;
            }
            pinsBySlot[slot] = pins + 1;
            mostSlotsPinned = Math.Max(mostSlotsPinned, pinsBySlot.Count(p => p.Value > 0));
        }
        return true;
    }

    public void ReleaseSlot(int slot)
    {
        lock (pinsBySlot)
            pinsBySlot[slot]--;
        inner.ReleaseSlot(slot);
    }

    /// <summary>The adapters written into a device slot, in order (a write per admission that found its adapter not resident).</summary>
    public IReadOnlyList<string> SlotWrites
    {
        get
        {
            lock (pinsBySlot)
                return slotWrites.ToArray();
        }
    }

    /// <summary>Writes into a slot that some request still pinned: an adapter swapped under a step using it (must stay 0).</summary>
    public int SlotsRewrittenWhilePinned
    {
        get
        {
            lock (pinsBySlot)
                return slotsRewrittenWhilePinned;
        }
    }

    /// <summary>The most slots pinned at one moment, i.e. the most distinct adapters the running requests (and so a step) held.</summary>
    public int MostSlotsPinnedAtOnce
    {
        get
        {
            lock (pinsBySlot)
                return mostSlotsPinned;
        }
    }

    public void RecordRequest(string name)
    {
        Interlocked.Increment(ref recordedRequests);
        inner.RecordRequest(name);
    }

    public bool PrepareMerged(LoraAdapter? adapter)
    {
        if (FailEveryMerge || (FailMergingAdapters && adapter is not null))
            throw new OutOfMemoryException("injected: no memory for the merged weights");
        return inner.PrepareMerged(adapter);
    }

    public void FreeRetired()
    {
        if (FailEveryFreeRetired)
            throw new InvalidOperationException("injected: freeing retired adapters failed");
        inner.FreeRetired();
    }
}
