using InferServer.AdapterStore;
using InferServer.AdapterStore.Registry;
using InferServer.Server.Engine;

namespace InferServer.Server.Hosting;

/// <summary>
/// A started engine as the host owns it: what requests call, the adapter registry the admin API drives, and a
/// drain for shutdown. The DI seam between the host and the engine implementation (tests register a fake here).
/// </summary>
public interface IEngineRuntime : IAsyncDisposable
{
    /// <summary>What the inference services call.</summary>
    IInferenceEngine Engine { get; }

    /// <summary>What the admin service calls.</summary>
    IAdapterRegistry Adapters { get; }

    /// <summary>Adapter lifecycle events (loads, evictions, merges) from every tier, for metrics.</summary>
    event EventHandler<AdapterEvent>? AdapterChanged;

    /// <summary>Stops admitting requests and lets running ones finish, for at most <paramref name="drainTimeout"/>.</summary>
    Task StopAsync(TimeSpan drainTimeout);
}
