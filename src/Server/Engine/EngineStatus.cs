namespace InferServer.Server.Engine;

/// <summary>A snapshot of the engine's load, updated every step.</summary>
/// <param name="WaitingRequests">Requests queued, not yet scheduled.</param>
/// <param name="RunningRequests">Requests with a sequence in the running batch.</param>
/// <param name="KvCacheUsage">Fraction of KV-cache slots in use, 0..1.</param>
/// <param name="MaxDeviceAdapters">Adapter slots on the device (the protocol's max_lora).</param>
/// <param name="RunningAdapters">Adapters of running requests.</param>
/// <param name="WaitingAdapters">Adapters of queued requests.</param>
/// <param name="UpdatedAt">When this snapshot was taken.</param>
public sealed record EngineStatus(
    int WaitingRequests,
    int RunningRequests,
    double KvCacheUsage,
    int MaxDeviceAdapters,
    IReadOnlyList<string> RunningAdapters,
    IReadOnlyList<string> WaitingAdapters,
    DateTimeOffset UpdatedAt);
