namespace InferServer.LoadGen.Results;

/// <summary>The human-readable form of a <see cref="RunSummary"/>.</summary>
public static class SummaryPrinter
{
    public static void Print(RunSummary summary, TextWriter output)
    {
        output.WriteLine($"== {summary.Name}: {summary.Scenario}, {summary.Mode}, {summary.Target}");
        output.WriteLine($"   requests: {summary.Succeeded} ok of {summary.Sent} sent ({summary.Planned} planned, {summary.Shed} shed) in {summary.WallSeconds:0.00} s");
        output.WriteLine($"   throughput: {summary.RequestsPerSecond:0.00} req/s, {summary.OutputTokensPerSecond:0.0} output tok/s ({summary.OutputTokens} tokens)");
        Line(output, "latency ms", summary.LatencyMs);
        Line(output, "TTFT ms (client)", summary.TimeToFirstTokenMs);
        Line(output, "TTFT ms (server)", summary.ServerTimeToFirstTokenMs);
        Line(output, "TTFT ms cold adapter", summary.ColdServerTimeToFirstTokenMs);
        Line(output, "TTFT ms warm adapter", summary.WarmServerTimeToFirstTokenMs);
        Line(output, "adapter load ms", summary.ServerAdapterLoadMs);
        Line(output, "TPOT ms", summary.TimePerOutputTokenMs);
        output.WriteLine($"   status: {string.Join(", ", summary.StatusCounts.Select(pair => $"{pair.Key}={pair.Value}"))}");
        if (summary.ServedFrom.Count > 0)
            output.WriteLine($"   served from: {string.Join(", ", summary.ServedFrom.Select(pair => $"{pair.Key}={pair.Value}"))}");
        if (summary.Churn is { } churn)
        {
            output.WriteLine($"   churn: {churn.Cycles} cycles; {string.Join(", ", churn.StatusCounts.Select(pair => $"{pair.Key}={pair.Value}"))}");
            Line(output, "unload ms", churn.UnloadMs);
            Line(output, "load ms", churn.LoadMs);
        }
    }

    private static void Line(TextWriter output, string label, PercentileSummary? values)
    {
        if (values is null) return;
        output.WriteLine($"   {label}: p50 {values.P50:0.0}  p90 {values.P90:0.0}  p99 {values.P99:0.0}  (n={values.Count})");
    }
}
