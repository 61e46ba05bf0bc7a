namespace InferServer.Server.Observability;

/// <summary>The Prometheus metric type an instrument is exposed as.</summary>
public enum PrometheusKind
{
    Counter,
    Gauge,
    Histogram,
}
