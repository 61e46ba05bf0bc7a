using InferServer.AdapterStore;
using InferServer.AdapterStore.Registry;
using InferServer.Server.Hosting;

namespace InferServer.Server.Observability;

/// <summary>Feeds the adapter load, eviction and merge counters from the engine's adapter lifecycle events.</summary>
public sealed class AdapterEventMetrics(IEngineRuntime runtime, InferServerMetrics metrics, AdapterLabels labels) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        runtime.AdapterChanged += Record;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        runtime.AdapterChanged -= Record;
        return Task.CompletedTask;
    }

    private void Record(object? sender, AdapterEvent change) =>
        metrics.AdapterChanged(change, labels.For(change.Name, succeeded: change.Kind != AdapterEventKind.LoadFailed));
}
