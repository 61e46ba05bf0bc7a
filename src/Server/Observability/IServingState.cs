using InferServer.Engine;

namespace InferServer.Server.Observability;

/// <summary>
/// What the health check reads of the engine the host serves. Hosting's EngineLifetime provides it: Observability
/// depends on this interface, not on the host.
/// </summary>
public interface IServingState
{
    /// <summary>Where the engine is in the host's lifetime.</summary>
    EngineState State { get; }

    /// <summary>The engine once started; null before.</summary>
    IInferenceEngine? Engine { get; }
}
