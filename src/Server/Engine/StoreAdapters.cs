using InferServer.AdapterStore.Merging;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Tiers;

namespace InferServer.Server.Engine;

/// <summary>
/// The engine's adapters backed by the adapter store: host copies from <see cref="AdapterStore.Registry.AdapterStore"/>,
/// device slots from <see cref="DeviceSlotTable"/>, merged weights from <see cref="MergeCache"/>. Owns the slot table
/// and merge cache (they live and die with the model); the store itself is owned by the host.
/// </summary>
public sealed class StoreAdapters(AdapterStore.Registry.AdapterStore store, DeviceSlotTable slots, MergeCache merges) : IEngineAdapters, IDisposable
{
    /// <inheritdoc />
    public int DeviceSlots => slots.DeviceSlots;

    /// <inheritdoc />
    public (long Device, long Host) Bytes => (slots.DeviceBytes + merges.MergedBytes, store.HostBytes);

    /// <inheritdoc />
    public void EnsureRegistered(string name) => store.Get(name);

    /// <inheritdoc />
    public Task<LoraAdapter> PinHostAsync(string name, CancellationToken cancellationToken) => store.AcquireHostAsync(name, cancellationToken);

    /// <inheritdoc />
    public void UnpinHost(LoraAdapter adapter) => store.ReleaseHost(adapter);

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
    public void Dispose()
    {
        merges.Dispose();
        slots.Dispose();
    }
}
