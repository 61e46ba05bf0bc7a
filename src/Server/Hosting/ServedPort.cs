namespace InferServer.Server.Hosting;

/// <summary>The listeners the server opens; every endpoint belongs to one or more of them (<see cref="PortRouting"/>).</summary>
public enum ServedPort
{
    /// <summary>gRPC (HTTP/2): the Inference, Admin, health and reflection services.</summary>
    Grpc,
    /// <summary>HTTP/1.1 for operators: /metrics and /healthz.</summary>
    Metrics,
    /// <summary>The OpenAI-compatible HTTP API.</summary>
    OpenAi,
}
