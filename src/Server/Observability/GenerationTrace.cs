using System.Diagnostics;
using InferServer.Engine;

namespace InferServer.Server.Observability;

/// <summary>
/// Child spans of a generation's request span, reconstructed from <see cref="GenerationTiming"/> with explicit start
/// and end times: the engine thread measures the phases, the handler (which owns the request span) records them.
/// QueueWait includes AdapterLoad, so adapter_load is drawn at the end of queue_wait.
/// </summary>
public static class GenerationTrace
{
    /// <summary>Adds queue_wait, adapter_load, prefill and decode under <paramref name="parent"/>.</summary>
    public static void RecordPhases(Activity? parent, GenerationTiming timing)
    {
        if (parent is null || !parent.Recorded)
        {
            return;
        }

        var submitted = timing.Submitted;
        var scheduled = submitted + timing.QueueWait;
        var firstToken = submitted + timing.TimeToFirstToken;
        var end = submitted + timing.Total;
        Span(parent, "queue_wait", submitted, scheduled);
        if (timing.AdapterLoad > TimeSpan.Zero)
        {
            Span(parent, "adapter_load", scheduled - timing.AdapterLoad, scheduled);
        }

        Span(parent, "prefill", scheduled, firstToken);
        Span(parent, "decode", firstToken, end);
    }

    private static void Span(Activity parent, string name, DateTimeOffset start, DateTimeOffset end)
    {
        using var span = InferServerTelemetry.ActivitySource.StartActivity(
            name, ActivityKind.Internal, parent.Context, startTime: start);
        span?.SetEndTime((end < start ? start : end).UtcDateTime);
    }
}
