namespace InferServer.AdapterStore.Configuration;

/// <summary>An adapter path outside the configured adapter roots, or not a directory (gRPC INVALID_ARGUMENT/PERMISSION_DENIED).</summary>
public sealed class AdapterPathException(string path, string reason) : Exception($"adapter path '{path}' refused: {reason}")
{
    /// <summary>The rejected path as given.</summary>
    public string Path { get; } = path;
}
