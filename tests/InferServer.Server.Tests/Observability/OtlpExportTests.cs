using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using InferServer.Server.Observability;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace InferServer.Server.Tests.Observability;

/// <summary>
/// Issue #28, item 5: OTLP export reaches a real collector. Over http/protobuf a collector serves each signal at its own
/// path and answers 404 at its root; over grpc the endpoint is the collector's address, used as given.
/// </summary>
public sealed class OtlpExportTests
{
    [Theory]
    [InlineData("http/protobuf", "/v1/traces", "/v1/metrics")]
    [InlineData("grpc", "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")]
    public async Task Export_ReachesTheCollectorsPathForEachSignal(string protocol, string tracesPath, string metricsPath)
    {
        var paths = new ConcurrentQueue<string>();
        var receiverBuilder = WebApplication.CreateSlimBuilder();
        receiverBuilder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
            listen.Protocols = protocol == "grpc" ? HttpProtocols.Http2 : HttpProtocols.Http1));
        await using var receiver = receiverBuilder.Build();
        // What an OpenTelemetry Collector's OTLP receiver does: each signal at its own path, 404 elsewhere.
        receiver.Run(context =>
        {
            var path = context.Request.Path.Value ?? "";
            paths.Enqueue(path);
            context.Response.StatusCode = path == tracesPath || path == metricsPath ? StatusCodes.Status200OK : StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        await receiver.StartAsync();
        // The collector's address as an operator writes it: http://host:port, no path.
        var collector = receiver.Urls.Single();

        await using var server = ServerWithOtlp(collector, protocol);
        var tracing = server.Services.GetRequiredService<TracerProvider>();
        var metrics = server.Services.GetRequiredService<MeterProvider>();
        using (InferServerTelemetry.ActivitySource.StartActivity("otlp-export-test"))
        {
        }
        using var meter = new Meter(InferServerTelemetry.Name);
        meter.CreateCounter<long>("otlp_export_test").Add(1);
        tracing.ForceFlush(10_000);
        metrics.ForceFlush(10_000);

        Assert.All(paths, path => Assert.True(path == tracesPath || path == metricsPath, $"posted to {path}"));
        Assert.Contains(tracesPath, paths);
        Assert.Contains(metricsPath, paths);
    }

    [Theory]
    [InlineData("http://collector:4318", OtlpExportProtocol.HttpProtobuf, "http://collector:4318/v1/traces")]
    [InlineData("http://collector:4318/", OtlpExportProtocol.HttpProtobuf, "http://collector:4318/v1/traces")]
    [InlineData("http://gateway/otlp/", OtlpExportProtocol.HttpProtobuf, "http://gateway/otlp/v1/traces")]
    [InlineData("http://collector:4317", OtlpExportProtocol.Grpc, "http://collector:4317/")]
    public void SignalEndpoint_AppendsThePathOverHttpOnly(string endpoint, OtlpExportProtocol protocol, string expected) =>
        Assert.Equal(new Uri(expected), OtlpSignals.Endpoint(new Uri(endpoint), protocol, OtlpSignals.TracesPath));

    /// <summary>The server's telemetry defaults (nothing started) with an OTLP endpoint and OTEL_EXPORTER_OTLP_PROTOCOL.</summary>
    private static WebApplication ServerWithOtlp(string endpoint, string? protocol)
    {
        var builder = WebApplication.CreateBuilder();
        var settings = new Dictionary<string, string?> { ["Observability:OtlpEndpoint"] = endpoint };
        if (protocol is not null)
            settings["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol;
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddInferServerDefaults();
        return builder.Build();
    }
}
