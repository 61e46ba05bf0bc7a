namespace InferServer.AdapterStore.Configuration;

/// <summary>An adapter name outside the allowed charset or length (gRPC INVALID_ARGUMENT, HTTP 400).</summary>
public sealed class InvalidAdapterNameException(string adapterName, string reason)
    : Exception($"invalid adapter name '{adapterName}': {reason}")
{
    /// <summary>The rejected name.</summary>
    public string AdapterName { get; } = adapterName;
}
