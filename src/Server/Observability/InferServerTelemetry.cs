using System.Diagnostics;

namespace InferServer.Server.Observability;

/// <summary>The names of the server's one Meter and one ActivitySource (both "InferServer").</summary>
public static class InferServerTelemetry
{
    /// <summary>Name of the Meter and the ActivitySource.</summary>
    public const string Name = "InferServer";

    /// <summary>The server's spans: one per request, with queue_wait / adapter_load / prefill / decode children.</summary>
    public static readonly ActivitySource ActivitySource = new(Name);
}
