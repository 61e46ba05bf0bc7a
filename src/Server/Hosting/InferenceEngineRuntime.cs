using InferServer.AdapterStore.Registry;
using InferServer.Server.Engine;

namespace InferServer.Server.Hosting;

/// <summary>The concrete engine and its adapter registry as the host's <see cref="IEngineRuntime"/>.</summary>
public sealed class InferenceEngineRuntime(InferenceEngine engine, IAdapterRegistry adapters) : IEngineRuntime
{
    public IInferenceEngine Engine => engine;

    public IAdapterRegistry Adapters => adapters;

    public Task StopAsync(TimeSpan drainTimeout) => engine.StopAsync(drainTimeout);

    public ValueTask DisposeAsync() => engine.DisposeAsync();
}
