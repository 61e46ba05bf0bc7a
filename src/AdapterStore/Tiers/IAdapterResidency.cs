using InferServer.AdapterStore.Peft;

namespace InferServer.AdapterStore.Tiers;

/// <summary>
/// The host tier as the device tier and the merge cache see it. A device slot holding an adapter pins its host copy:
/// the slot is identified by that <see cref="LoraAdapter"/> object, and the merge cache reads A and B from it, so the
/// host copy must not be disposed while a slot still names it (vLLM keeps device-resident LoRAs in its CPU cache too).
/// Implemented by <see cref="HostTier"/>; thread-safe.
/// </summary>
public interface IAdapterResidency
{
    /// <summary>
    /// The adapter now occupies a device slot: its host copy stays until the returned pin is disposed (the slot's owner
    /// disposes it when the slot is freed; a second dispose does nothing). Then the copy may be evicted, or freed if it was
    /// unloaded.
    /// </summary>
    IDisposable PinForDevice(LoraAdapter adapter);

    /// <summary>Merged weights of the adapter are in use (true) or no longer (false); the adapter's tier is then Merged.</summary>
    void MergedChanged(LoraAdapter adapter, bool merged);

    /// <summary>
    /// True once the adapter was unloaded or replaced by a reload (or is unknown to the host tier): the device tier frees
    /// its slot as soon as no request pins it, instead of keeping it cached.
    /// </summary>
    bool IsRetired(LoraAdapter adapter);
}
