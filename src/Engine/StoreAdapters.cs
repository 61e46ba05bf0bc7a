using InferServer.AdapterStore.Merging;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;

namespace InferServer.Engine;

/// <summary>
/// The engine's adapters backed by the adapter store: host copies from <see cref="AdapterRegistry"/>,
/// device slots from <see cref="DeviceSlotTable"/>, merged weights from <see cref="MergeCache"/>. Owns the slot table
/// and merge cache (they live and die with the model); the store itself is owned by the host.
/// </summary>
internal sealed class StoreAdapters(AdapterRegistry store, DeviceSlotTable slots, MergeCache merges) : IEngineAdapters, IDisposable
{
    // The store's retired-version count when the device tier and merge cache last held nothing retired.
    private long retiredSeen;

    /// <inheritdoc />
    public int DeviceSlots => slots.DeviceSlots;

    /// <inheritdoc />
    public AdapterResidency Residency => new(
        store.HostAdapterCount, store.HostBytes, store.RequestPins, slots.ResidentCount, slots.PinnedCount, slots.ResidentBytes,
        slots.DeviceBytes, merges.CachedCount, merges.MergedBytes);

    /// <inheritdoc />
    public void EnsureRegistered(string name) => store.Get(name);

    /// <inheritdoc />
    public Task<AdapterLease> PinHostAsync(string name, CancellationToken cancellationToken) => store.AcquireHostAsync(name, cancellationToken);

    /// <inheritdoc />
    public bool TryAcquireSlot(LoraAdapter adapter, out int slot, out bool writtenNow) =>
        slots.TryAcquire(adapter, out slot, out writtenNow);

    /// <inheritdoc />
    public void ReleaseSlot(int slot) => slots.Release(slot);

    /// <inheritdoc />
    public void RecordRequest(string name) => merges.RecordRequest(name);

    /// <inheritdoc />
    public bool PrepareMerged(LoraAdapter? adapter)
    {
        if (adapter is not null && merges.ShouldMerge(adapter))
        {
            merges.Activate(adapter);
            return true;
        }
        merges.Deactivate();
        return false;
    }

    /// <inheritdoc />
    public void FreeRetired()
    {
        var retired = store.RetiredVersions;
        if (retired == retiredSeen)
        {
            return;
        }

        slots.FreeRetired();
        // Every running request pins a slot, so a retired adapter that no slot holds is used by no request: its merged
        // copy may go too. Otherwise a draining request still runs on it, and a later call frees the rest.
        var draining = slots.HoldsRetired();
        merges.ForgetRetired(includeActive: !draining);
        if (!draining)
        {
            retiredSeen = retired;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        merges.Dispose();
        slots.Dispose();
    }
}
