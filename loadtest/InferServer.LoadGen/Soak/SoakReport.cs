namespace InferServer.LoadGen.Soak;

/// <summary>What a soak run found: the published line, the leaks, the violations and how calls ended.</summary>
public sealed record SoakReport(
    int Seed,
    long Requests,
    long Cancelled,
    long Deadline,
    long Unloads,
    long Lost,
    long Wrong,
    IReadOnlyList<string> Leaks,
    long Refused,
    long ViolationCount,
    IReadOnlyList<string> Violations,
    IReadOnlyDictionary<string, int> Endings,
    TimeSpan Traffic,
    int HealthProbes,
    double RssAfterWarmUp,
    double RssAfterTraffic,
    double GcCommittedAfterWarmUp,
    double GcCommittedAfterTraffic,
    double GcLiveAfterWarmUp,
    double GcLiveAfterTraffic,
    StructuredCounts Structured)
{
    /// <summary>The line published in docs/benchmarks.md.</summary>
    public string SummaryLine =>
        $"soak: requests={Requests} cancelled={Cancelled} deadline={Deadline} unloads={Unloads} lost={Lost} wrong={Wrong} leaked={Leaks.Count}";

    /// <summary>No violation of any invariant: every call ended cleanly and in time, every answer right, nothing leaked.</summary>
    public bool Passed => ViolationCount == 0 && Leaks.Count == 0;

    public void WriteTo(TextWriter writer)
    {
        writer.WriteLine(SummaryLine);
        writer.WriteLine($"soak: seed={Seed} traffic={Traffic.TotalSeconds:0} s refused={Refused} health_probes={HealthProbes} " +
                         $"rss_after_warmup={RssAfterWarmUp / (1 << 20):0.0} MiB rss_after_traffic={RssAfterTraffic / (1 << 20):0.0} MiB " +
                         $"gc_committed_after_warmup={GcCommittedAfterWarmUp / (1 << 20):0.0} MiB gc_committed_after_traffic={GcCommittedAfterTraffic / (1 << 20):0.0} MiB " +
                         $"gc_live_after_warmup={GcLiveAfterWarmUp / (1 << 20):0.0} MiB gc_live_after_traffic={GcLiveAfterTraffic / (1 << 20):0.0} MiB violations={ViolationCount}");
        writer.WriteLine($"soak: structured constrained_valid={Structured.ConstrainedValid} tool_replies_valid={Structured.ToolRepliesValid} " +
                         $"tool_calls={Structured.ToolCalls} unfinished={Structured.Unfinished} cancelled_mid_value={Structured.Cancelled}");
        writer.WriteLine("soak: endings " + string.Join(' ', Endings.Select(ending => $"{ending.Key}={ending.Value}")));
        foreach (var leak in Leaks) writer.WriteLine("soak: leaked " + leak);
        foreach (var violation in Violations) writer.WriteLine("soak: violation " + violation);
        writer.WriteLine(Passed ? "soak: PASSED" : "soak: FAILED");
    }
}

/// <summary>
/// The structured calls (issue 23): completed constrained outputs and tool replies that validated (one that does not is
/// counted in <see cref="SoakReport.Wrong"/>), the calls those replies carried, the outputs max_new_tokens ended
/// mid-value (unchecked) and the streams cancelled mid-value.
/// </summary>
public sealed record StructuredCounts(long ConstrainedValid, long ToolRepliesValid, long ToolCalls, long Unfinished, long Cancelled);
