namespace InferServer.AdapterStore;

/// <summary>A name already registered from another directory, or an unload/reload that conflicts with running requests
/// (gRPC ALREADY_EXISTS / FAILED_PRECONDITION, HTTP 409).</summary>
public sealed class AdapterConflictException(string adapterName, string reason)
    : Exception($"adapter '{adapterName}': {reason}")
{
    /// <summary>The adapter concerned.</summary>
    public string AdapterName { get; } = adapterName;
}
