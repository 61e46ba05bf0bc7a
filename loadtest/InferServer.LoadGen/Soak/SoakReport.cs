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
    double GcLiveAfterTraffic)
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
        writer.WriteLine("soak: endings " + string.Join(' ', Endings.Select(ending => $"{ending.Key}={ending.Value}")));
        foreach (var leak in Leaks) writer.WriteLine("soak: leaked " + leak);
        foreach (var violation in Violations) writer.WriteLine("soak: violation " + violation);
        writer.WriteLine(Passed ? "soak: PASSED" : "soak: FAILED");
    }
}
