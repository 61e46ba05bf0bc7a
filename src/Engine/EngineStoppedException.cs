namespace InferServer.Engine;

/// <summary>The engine is shutting down, or stopped after an unrecoverable error, and serves no requests (gRPC UNAVAILABLE, HTTP 503).</summary>
public sealed class EngineStoppedException(string message = "the server is shutting down and accepts no new requests") : Exception(message)
{
    /// <summary>For requests caught by a fault of the engine loop (the server then restarts).</summary>
    public static EngineStoppedException Faulted() => new("the engine stopped after an unexpected error and the server is restarting; retry");
}
