using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.Server.Engine;

namespace InferServer.Server.Hosting;

/// <summary>
/// The adapter side of a server built without the adapter store: no adapter is registered, so requests naming one get
/// NOT_FOUND and loading one is refused (FAILED_PRECONDITION). Replaced by the store's registry once it is merged.
/// </summary>
public sealed class BaseModelOnlyAdapters : IAdapterResidency, IAdapterRegistry
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

    public Task<AdapterInfo> LoadAsync(string name, string? directory, bool reload, CancellationToken cancellationToken) =>
        throw new ModelCapabilityException("this server was built without the adapter store; it serves the base model only");

    public Task UnloadAsync(string name, CancellationToken cancellationToken) => throw new AdapterNotFoundException(name);

    public IReadOnlyList<AdapterInfo> List() => [];

    public AdapterInfo Get(string name) => throw new AdapterNotFoundException(name);
}
