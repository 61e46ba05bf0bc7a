using InferServer.Engine.Composition;
using InferServer.AdapterStore;

namespace InferServer.Server.Observability;

/// <summary>Feeds the adapter load, eviction and merge counters from the adapter lifecycle events of every tier.</summary>
/// <remarks>
/// Subscribed from construction, not from StartAsync: the host builds every hosted service before it starts the first,
/// and the preload raises its load events from EngineLifetime.StartAsync, which may run before this service's.
/// </remarks>
public sealed class AdapterEventMetrics : IHostedService, IDisposable
{
    private readonly IAdapterEventSource source;
    private readonly InferServerMetrics metrics;
    private readonly AdapterLabels labels;

    public AdapterEventMetrics(IAdapterEventSource source, InferServerMetrics metrics, AdapterLabels labels)
    {
        this.source = source;
        this.metrics = metrics;
        this.labels = labels;
        source.AdapterChanged += Record;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        source.AdapterChanged -= Record;
        return Task.CompletedTask;
    }

    public void Dispose() => source.AdapterChanged -= Record;

    private void Record(object? sender, AdapterEvent change) =>
        metrics.AdapterChanged(change, labels.For(change.Name, succeeded: change.Kind != AdapterEventKind.LoadFailed));
}
