using InferServer.Server.Observability;
using Microsoft.Extensions.Options;
using Prometheus;

namespace InferServer.Server.Hosting;

/// <summary>Which port answers health probes and scrapes (Observability registers what they answer; the host places them).</summary>
public static class HealthAndMetricsEndpoints
{
    /// <summary>
    /// grpc.health.v1 on the gRPC port; /healthz and /metrics (Prometheus text format: the host's registry, fed by
    /// <see cref="PrometheusMeterBridge"/>) on the metrics port, and /metrics also on the OpenAI port when
    /// Metrics:ServeOnOpenAiPort is set (the Inference Extension's endpoint picker scrapes the pool's target port).
    /// </summary>
    public static WebApplication MapHealthAndMetrics(this WebApplication app)
    {
        app.MapGrpcHealthChecksService().ServedOn(ServedPort.Grpc);
        app.MapHealthChecks("/healthz").ServedOn(ServedPort.Metrics);
        if (app.Services.GetRequiredService<IOptions<ObservabilityOptions>>().Value.PrometheusEnabled)
        {
            var onOpenAiPort = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value.ServeOnOpenAiPort;
            app.MapMetrics("/metrics", app.Services.GetRequiredService<CollectorRegistry>())
                .ServedOn(onOpenAiPort ? [ServedPort.Metrics, ServedPort.OpenAi] : [ServedPort.Metrics]);
        }
        return app;
    }
}
