using InferServer.AdapterStore;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;
using InferServer.Engine;

namespace InferServer.Engine.Tests;

/// <summary>A residency with no adapters registered: every adapter name is unknown. For base-model engine tests.</summary>
public sealed class BaseOnlyAdapters : IEngineAdapters
{
    public int DeviceSlots => 0;

    public AdapterResidency Residency => AdapterResidency.None;

    public void EnsureRegistered(string name) => throw new AdapterNotFoundException(name);

    public Task<AdapterLease> PinHostAsync(string name, CancellationToken cancellationToken) => throw new AdapterNotFoundException(name);

    public bool TryAcquireSlot(LoraAdapter adapter, out int slot, out bool writtenNow) => throw new InvalidOperationException("no adapters");

    public void ReleaseSlot(int slot) => throw new InvalidOperationException("no slot was acquired");

    public void RecordRequest(string name) => throw new InvalidOperationException("no adapters");

    public bool PrepareMerged(LoraAdapter? adapter) => adapter is null ? false : throw new InvalidOperationException("no adapters");

    public void FreeRetired()
    {
    }
}
