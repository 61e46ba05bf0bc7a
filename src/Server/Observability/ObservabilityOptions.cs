namespace InferServer.Server.Observability;

/// <summary>Telemetry settings, bound from the "Observability" section.</summary>
public sealed record ObservabilityOptions
{
    /// <summary>
    /// Distinct adapter names that get their own metrics label value; later names are reported as "other". Every
    /// label value is a separate Prometheus time series per instrument and status, so a server with thousands of
    /// adapters (or a client inventing names) would otherwise grow the scrape without bound.
    /// </summary>
    public int AdapterLabelLimit { get; init; } = 64;

    /// <summary>
    /// OTLP endpoint for traces and metrics; empty = OTEL_EXPORTER_OTLP_ENDPOINT, and no export when that is unset too. Over
    /// grpc (OTEL_EXPORTER_OTLP_PROTOCOL's default) it is the collector's address; over http/protobuf it is the base to which
    /// /v1/traces and /v1/metrics are appended (<see cref="OtlpSignals"/>).
    /// </summary>
    public string OtlpEndpoint { get; init; } = "";

    /// <summary>Expose Prometheus metrics at /metrics on the HTTP/1.1 port.</summary>
    public bool PrometheusEnabled { get; init; } = true;
}
