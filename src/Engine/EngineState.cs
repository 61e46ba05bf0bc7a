namespace InferServer.Engine;

/// <summary>Where the engine is in the host's lifetime.</summary>
public enum EngineState
{
    /// <summary>Not started yet.</summary>
    Starting,
    /// <summary>Admitting requests.</summary>
    Serving,
    /// <summary>Shutting down: running requests finish, new ones are refused.</summary>
    Draining,
    /// <summary>The engine loop failed for good: every request fails, and the host stops with a non-zero exit code.</summary>
    Faulted,
}
