using OpenTelemetry.Exporter;

namespace InferServer.Server.Observability;

/// <summary>
/// Where each signal goes for the OTLP endpoint (Observability:OtlpEndpoint, else OTEL_EXPORTER_OTLP_ENDPOINT). The SDK
/// appends the signal paths only to an endpoint it reads from the environment itself; an endpoint set in code is used as
/// given, so over http/protobuf traces and metrics would be posted to the collector's root, which answers 404. This
/// appends them as the OTLP specification does for OTEL_EXPORTER_OTLP_ENDPOINT: the endpoint's path + /v1/traces and
/// + /v1/metrics over http/protobuf; over grpc the endpoint is the collector's address and is used as given. The protocol
/// is the SDK's (OTEL_EXPORTER_OTLP_PROTOCOL: grpc by default, or http/protobuf).
/// </summary>
public static class OtlpSignals
{
    /// <summary>Options name of the trace exporter.</summary>
    public const string TracesOptionsName = "inferserver-traces";

    /// <summary>Options name of the metric exporter.</summary>
    public const string MetricsOptionsName = "inferserver-metrics";

    /// <summary>The path of the trace signal under an OTLP/HTTP endpoint.</summary>
    public const string TracesPath = "v1/traces";

    /// <summary>The path of the metric signal under an OTLP/HTTP endpoint.</summary>
    public const string MetricsPath = "v1/metrics";

    /// <summary>Where <paramref name="signalPath"/> is sent for <paramref name="endpoint"/> over <paramref name="protocol"/>.</summary>
    public static Uri Endpoint(Uri endpoint, OtlpExportProtocol protocol, string signalPath) =>
        protocol == OtlpExportProtocol.HttpProtobuf
            ? new Uri(endpoint.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/" + signalPath)
            : endpoint;
}
