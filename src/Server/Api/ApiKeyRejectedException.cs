namespace InferServer.Server.Api;

/// <summary>
/// A call without an acceptable API key: none or an unknown one (gRPC UNAUTHENTICATED, HTTP 401), or a known key
/// without the right (<see cref="KeyRecognised"/>; gRPC PERMISSION_DENIED, HTTP 403).
/// </summary>
public sealed class ApiKeyRejectedException(string message, bool keyRecognised) : Exception(message)
{
    /// <summary>The key is valid, but not for this API.</summary>
    public bool KeyRecognised { get; } = keyRecognised;
}
