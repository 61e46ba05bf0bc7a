namespace InferServer.AdapterStore;

/// <summary>A request or admin call named an adapter that is not registered (gRPC NOT_FOUND, HTTP 404).</summary>
public sealed class AdapterNotFoundException(string adapterName)
    : Exception($"adapter '{adapterName}' is not registered on this server")
{
    /// <summary>The name that was asked for.</summary>
    public string AdapterName { get; } = adapterName;
}
