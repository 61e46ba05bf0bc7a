using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.Server.Engine;

namespace InferServer.Server.Tests.Engine;

/// <summary>A residency with no adapters registered: every adapter name is unknown. For base-model engine tests.</summary>
public sealed class BaseOnlyAdapters : IAdapterResidency
{
    public int DeviceSlots => 0;

    public (long Device, long Host) Bytes => (0, 0);

    public void EnsureRegistered(string name) => throw new AdapterNotFoundException(name);

    public Task<LoraAdapter> PinHostAsync(string name, CancellationToken cancellationToken) => throw new AdapterNotFoundException(name);

    public void UnpinHost(LoraAdapter adapter) => throw new InvalidOperationException("no adapter was pinned");

    public bool TryAcquireSlot(LoraAdapter adapter, out int slot, out bool writtenNow) => throw new InvalidOperationException("no adapters");

    public void ReleaseSlot(int slot) => throw new InvalidOperationException("no slot was acquired");

    public void RecordRequest(string name) => throw new InvalidOperationException("no adapters");

    public bool PrepareMerged(LoraAdapter? adapter) => adapter is null ? false : throw new InvalidOperationException("no adapters");
}
