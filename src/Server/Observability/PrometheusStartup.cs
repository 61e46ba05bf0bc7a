using Prometheus;

namespace InferServer.Server.Observability;

/// <summary>
/// prometheus-net starts its default MeterAdapter in a before-first-collection callback, so measurements recorded before
/// the first scrape (a counter incremented by early traffic) would be lost; observable instruments hide this because
/// they are read at scrape time. One collection at host start attaches the adapter before any request is served.
/// </summary>
public sealed class PrometheusStartup : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        Metrics.DefaultRegistry.CollectAndExportAsTextAsync(Stream.Null, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
