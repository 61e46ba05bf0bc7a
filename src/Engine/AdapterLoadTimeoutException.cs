namespace InferServer.Engine;

/// <summary>
/// The request's adapter did not reach host memory within Engine:AdapterLoadTimeout (a hung network file system, say).
/// The request fails (gRPC UNAVAILABLE, retryable) instead of waiting for ever; the load itself goes on in the background.
/// </summary>
public sealed class AdapterLoadTimeoutException(string adapter, TimeSpan timeout)
    : Exception($"adapter '{adapter}' did not load within {timeout.TotalSeconds:0.#} s; try again later")
{
    public string Adapter { get; } = adapter;
}
