using InferServer.AdapterStore.Peft;

namespace InferServer.Server.Engine;

/// <summary>
/// What the engine needs from the adapter store: host copies loaded in the background, device slots on the engine
/// thread, and the merge cache. Kept this narrow so the scheduler's logic can be tested on its own.
/// </summary>
public interface IAdapterResidency
{
    /// <summary>Usable device slots (distinct adapters one step may use).</summary>
    int DeviceSlots { get; }

    /// <summary>Bytes of adapters on the device and in host memory.</summary>
    (long Device, long Host) Bytes { get; }

    /// <summary>Throws AdapterNotFoundException (or InvalidAdapterNameException) unless the name can be served. Any thread.</summary>
    void EnsureRegistered(string name);

    /// <summary>Loads (or finds) the host copy and pins it until <see cref="UnpinHost"/>. Any thread; runs in the background.</summary>
    Task<LoraAdapter> PinHostAsync(string name, CancellationToken cancellationToken);

    /// <summary>Releases a pin taken by <see cref="PinHostAsync"/>. Any thread.</summary>
    void UnpinHost(LoraAdapter adapter);

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
}
