using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Tiers;

namespace InferServer.Engine;

/// <summary>
/// What the engine needs from the adapter store: host copies loaded in the background, device slots on the engine
/// thread, and the merge cache. Kept this narrow so the scheduler's logic can be tested on its own.
/// </summary>
public interface IEngineAdapters
{
    /// <summary>Usable device slots (distinct adapters one step may use).</summary>
    int DeviceSlots { get; }

    /// <summary>Engine thread: what every tier holds now, pins included.</summary>
    AdapterResidency Residency { get; }

    /// <summary>Throws AdapterNotFoundException (or InvalidAdapterNameException) unless the name can be served. Any thread.</summary>
    void EnsureRegistered(string name);

    /// <summary>
    /// Loads (or finds) the host copy and pins it until the returned lease is disposed (idempotent). Any thread; runs in
    /// the background.
    /// </summary>
    Task<AdapterLease> PinHostAsync(string name, CancellationToken cancellationToken);

    /// <summary>Engine thread: pins a device slot holding the adapter, writing it there if needed; false when every slot is pinned.</summary>
    bool TryAcquireSlot(LoraAdapter adapter, out int slot, out bool writtenNow);

    /// <summary>Engine thread: releases a slot pin.</summary>
    void ReleaseSlot(int slot);

    /// <summary>Engine thread: counts a request for the merge cache's traffic shares.</summary>
    void RecordRequest(string name);

    /// <summary>
    /// Engine thread: when the coming step's rows all use <paramref name="adapter"/> and it is hot, switch its target
    /// modules to merged weights and return true (the step then runs without the LoRA path); otherwise restore W0 for
    /// every module and return false.
    /// </summary>
    bool PrepareMerged(LoraAdapter? adapter);

    /// <summary>
    /// Engine thread, between steps: frees the device slots and merged copies of unloaded or replaced adapters that no
    /// request uses any more, so an unload of an idle adapter frees its memory at once. Cheap when nothing was retired.
    /// </summary>
    void FreeRetired();
}
