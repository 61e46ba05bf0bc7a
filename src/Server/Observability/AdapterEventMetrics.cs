using InferServer.AdapterStore;
using InferServer.AdapterStore.Registry;

namespace InferServer.Server.Observability;

/// <summary>Feeds the adapter load, eviction and merge counters from the adapter lifecycle events of every tier.</summary>
public sealed class AdapterEventMetrics(IAdapterEventSource source, InferServerMetrics metrics, AdapterLabels labels) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        source.AdapterChanged += Record;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        source.AdapterChanged -= Record;
        return Task.CompletedTask;
    }

    private void Record(object? sender, AdapterEvent change) =>
        metrics.AdapterChanged(change, labels.For(change.Name, succeeded: change.Kind != AdapterEventKind.LoadFailed));
}
