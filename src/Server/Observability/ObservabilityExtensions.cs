using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Prometheus;

namespace InferServer.Server.Observability;

/// <summary>Telemetry and health for the host (the eShop/Aspire "service defaults" shape).</summary>
public static class ObservabilityExtensions
{
    /// <summary>The server-wide grpc.health.v1 service names: "" (the whole server) and each API.</summary>
    public static readonly IReadOnlyList<string> ServerHealthServices = ["", "inferserver.v1.Inference", "inferserver.v1.Admin"];

    /// <summary>
    /// OpenTelemetry tracing and metrics over the InferServer ActivitySource and Meter (plus ASP.NET Core's), exported
    /// over OTLP only when an endpoint is configured (each signal to its own path over http/protobuf: <see cref="OtlpSignals"/>);
    /// gRPC and HTTP health checks; the metrics instruments.
    /// </summary>
    public static WebApplicationBuilder AddInferServerDefaults(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptionsWithValidateOnStart<ObservabilityOptions>()
            .BindConfiguration("Observability");
        builder.Services.AddSingleton<AdapterLabels>();
        builder.Services.AddSingleton<InferServerMetrics>();
        builder.Services.AddSingleton<RequestLog>();
        // The host's own registry: /metrics shows this host's instruments and the process's, nothing another host in
        // the same process (the tests run several) or a runtime-internal Meter records.
        builder.Services.AddSingleton(_ =>
        {
            var registry = Metrics.NewCustomRegistry();
            DotNetStats.Register(registry);
            GcMemoryMetrics.Register(registry);
            return registry;
        });
        builder.Services.AddSingleton<PrometheusMeterBridge>();
        builder.Services.AddHostedService(services => services.GetRequiredService<PrometheusMeterBridge>());

        var otlpEndpoint = builder.Configuration["Observability:OtlpEndpoint"] is { Length: > 0 } configured
            ? configured
            : builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (!string.IsNullOrWhiteSpace(otlpEndpoint))
        {
            var endpoint = new Uri(otlpEndpoint);
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(resource => resource.AddService(InferServerTelemetry.Name))
                .WithTracing(tracing => tracing
                    .AddSource(InferServerTelemetry.Name, "Microsoft.AspNetCore")
                    .AddOtlpExporter(OtlpSignals.TracesOptionsName,
                        otlp => otlp.Endpoint = OtlpSignals.Endpoint(endpoint, otlp.Protocol, OtlpSignals.TracesPath)))
                .WithMetrics(metrics => metrics
                    .AddMeter(InferServerTelemetry.Name, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
                    .AddOtlpExporter(OtlpSignals.MetricsOptionsName,
                        (otlp, _) => otlp.Endpoint = OtlpSignals.Endpoint(endpoint, otlp.Protocol, OtlpSignals.MetricsPath)));
        }

        builder.Services.AddGrpcHealthChecks(health =>
            {
                // Answer from the published cache: per-adapter names are written there, not mapped to checks.
                health.UseHealthChecksCache = true;
                // "" is the whole server; the service names let clients probe one API. Adapters get their own
                // names at run time (AdapterHealthPublisher).
                foreach (var service in ServerHealthServices)
                {
                    health.Services.Map(service, _ => true);
                }
            })
            .AddCheck<EngineHealthCheck>("engine");
        builder.Services.Configure<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckPublisherOptions>(publisher =>
        {
            // Publish as soon as the host starts, then every few seconds: the gRPC health service answers from this cache.
            publisher.Delay = TimeSpan.Zero;
            publisher.Period = TimeSpan.FromSeconds(5);
        });
        builder.Services.AddSingleton<AdapterHealthPublisher>();
        builder.Services.AddSingleton<Microsoft.Extensions.Diagnostics.HealthChecks.IHealthCheckPublisher>(
            services => services.GetRequiredService<AdapterHealthPublisher>());
        return builder;
    }
}
