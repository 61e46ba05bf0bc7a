using InferServer.AdapterStore;
using InferServer.AdapterStore.Registry;
using InferServer.Server.Engine;

namespace InferServer.Server.Hosting;

/// <summary>The concrete engine and its adapter store as the host's <see cref="IEngineRuntime"/>.</summary>
public sealed class InferenceEngineRuntime(InferenceEngine engine) : IEngineRuntime
{
    public IInferenceEngine Engine => engine;

    public IAdapterRegistry Adapters => engine.Adapters;

    public event EventHandler<AdapterEvent>? AdapterChanged
    {
        add => engine.AdapterChanged += value;
        remove => engine.AdapterChanged -= value;
    }

    public Task StopAsync(TimeSpan drainTimeout) => engine.StopAsync(drainTimeout);

    public ValueTask DisposeAsync() => engine.DisposeAsync();
}
