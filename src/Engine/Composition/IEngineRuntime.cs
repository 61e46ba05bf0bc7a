using InferServer.AdapterStore.Registry;

namespace InferServer.Engine.Composition;

/// <summary>
/// A started engine as the host owns it: what requests call, the adapter registry the admin API drives, and a
/// drain for shutdown. The DI seam between the host and the engine implementation (tests register a fake here).
/// </summary>
public interface IEngineRuntime : IAdapterEventSource, IAsyncDisposable
{
    /// <summary>What the inference services call.</summary>
    IInferenceEngine Engine { get; }

    /// <summary>What the admin service calls.</summary>
    IAdapterRegistry Adapters { get; }

    /// <summary>
    /// Finishes the start once the host starts: preloads the configured adapters. The host awaits it before it serves; a
    /// failure fails the start.
    /// </summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Stops admitting requests and lets running ones finish, for at most <paramref name="drainTimeout"/>.</summary>
    Task StopAsync(TimeSpan drainTimeout);
}
