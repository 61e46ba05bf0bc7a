namespace InferServer.Engine;

/// <summary>A snapshot of the engine's load, updated every step.</summary>
/// <param name="WaitingRequests">Requests queued, not yet scheduled.</param>
/// <param name="RunningRequests">Requests with a sequence in the running batch.</param>
/// <param name="KvCacheUsage">Fraction of KV-cache slots in use, 0..1.</param>
/// <param name="MaxDeviceAdapters">Adapter slots on the device (the protocol's max_lora).</param>
/// <param name="RunningAdapters">Adapters of running requests.</param>
/// <param name="WaitingAdapters">Adapters of queued requests.</param>
/// <param name="UpdatedAt">When this snapshot was taken.</param>
/// <param name="Steps">Model steps run since start (cumulative).</param>
/// <param name="RowsProcessed">Sequences processed over all steps (cumulative; divided by Steps = mean rows per step).</param>
/// <param name="PromptTokensProcessed">Prompt tokens prefilled (cumulative).</param>
/// <param name="TokensGenerated">Tokens generated (cumulative).</param>
/// <param name="KvCacheBytes">Bytes the KV cache holds (allocated once).</param>
/// <param name="DeviceAdapterBytes">Bytes of adapter slot pools on the device.</param>
/// <param name="HostAdapterBytes">Bytes of adapters held in host memory.</param>
public sealed record EngineStatus(
    int WaitingRequests,
    int RunningRequests,
    double KvCacheUsage,
    int MaxDeviceAdapters,
    IReadOnlyList<string> RunningAdapters,
    IReadOnlyList<string> WaitingAdapters,
    DateTimeOffset UpdatedAt,
    long Steps,
    long RowsProcessed,
    long PromptTokensProcessed,
    long TokensGenerated,
    long KvCacheBytes,
    long DeviceAdapterBytes,
    long HostAdapterBytes)
{
    /// <summary>KV-cache blocks owned by sequences now.</summary>
    public int KvBlocksInUse { get; init; }

    /// <summary>KV-cache blocks registered in the prefix cache, used now or idle in its LRU (within the same budget).</summary>
    public int KvBlocksCached { get; init; }

    /// <summary>What each adapter tier holds, pins included.</summary>
    public AdapterResidency Adapters { get; init; } = AdapterResidency.None;
}
