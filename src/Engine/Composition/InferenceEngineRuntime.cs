using InferServer.AdapterStore;
using InferServer.AdapterStore.Registry;

namespace InferServer.Engine.Composition;

/// <summary>
/// The engine and the adapter registry <see cref="EngineComposition"/> built, as the host's <see cref="IEngineRuntime"/>:
/// lifecycle events of the registry, the device slot table and the merge cache arrive here as one stream.
/// </summary>
public sealed class InferenceEngineRuntime : IEngineRuntime
{
    private readonly AdapterRegistry registry;

    internal InferenceEngineRuntime(InferenceEngine engine, AdapterRegistry registry)
    {
        Engine = engine;
        this.registry = registry;
    }

    /// <summary>The engine (it owns the model, the KV cache and the adapter tiers, and frees them when disposed).</summary>
    public InferenceEngine Engine { get; }

    IInferenceEngine IEngineRuntime.Engine => Engine;

    public IAdapterRegistry Adapters => registry;

    public event EventHandler<AdapterEvent>? AdapterChanged;

    /// <summary>Preloads the configured adapters (Adapters:Preload); a preload that fails fails the start.</summary>
    public Task StartAsync(CancellationToken cancellationToken) => registry.PreloadAsync(cancellationToken);

    public Task StopAsync(TimeSpan drainTimeout) => Engine.StopAsync(drainTimeout);

    public ValueTask DisposeAsync() => Engine.DisposeAsync();

    // Raised on the tiers' threads.
    internal void RaiseAdapterChanged(object? sender, AdapterEvent change) => AdapterChanged?.Invoke(this, change);
}
