using System.Text.Json.Serialization;

namespace InferServer.LoadGen.Results;

/// <summary>The measured result of one run, as printed and written to JSON.</summary>
public sealed record RunSummary
{
    public required string Name { get; init; }
    public required string Target { get; init; }
    public required string Scenario { get; init; }
    public required string Mode { get; init; }
    public required IReadOnlyDictionary<string, string> Settings { get; init; }
    public required int Planned { get; init; }
    public required int Sent { get; init; }
    /// <summary>Open loop only: arrivals not sent because the in-flight cap was reached (client-side shedding).</summary>
    public required int Shed { get; init; }
    public required int Succeeded { get; init; }
    public required double WallSeconds { get; init; }
    public required double RequestsPerSecond { get; init; }
    public required double OutputTokensPerSecond { get; init; }
    public required long OutputTokens { get; init; }
    public PercentileSummary? LatencyMs { get; init; }
    public PercentileSummary? TimeToFirstTokenMs { get; init; }
    public PercentileSummary? ServerTimeToFirstTokenMs { get; init; }
    /// <summary>Server TTFT of the first request naming each adapter in this run (the one that may pay the hot load).</summary>
    public PercentileSummary? ColdServerTimeToFirstTokenMs { get; init; }
    /// <summary>Server TTFT of every later request naming an adapter already used in this run.</summary>
    public PercentileSummary? WarmServerTimeToFirstTokenMs { get; init; }
    public PercentileSummary? ServerAdapterLoadMs { get; init; }
    public PercentileSummary? TimePerOutputTokenMs { get; init; }
    public required IReadOnlyDictionary<string, int> StatusCounts { get; init; }
    public required IReadOnlyDictionary<string, int> ServedFrom { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ChurnSummary? Churn { get; init; }

    /// <summary>Aggregates the outcomes of a run that took <paramref name="wallSeconds"/>.</summary>
    public static RunSummary From(string name, string target, string scenario, string mode, IReadOnlyDictionary<string, string> settings,
        int planned, int shed, IReadOnlyList<RequestOutcome> outcomes, double wallSeconds, ChurnSummary? churn)
    {
        var ok = outcomes.Where(outcome => outcome.Succeeded).ToArray();
        var tokens = ok.Sum(outcome => (long)outcome.CompletionTokens);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var cold = new List<double>();
        var warm = new List<double>();
        foreach (var outcome in ok.OrderBy(outcome => outcome.Start))
        {
            if (outcome.Adapter.Length == 0 || outcome.ServerTimeToFirstTokenMs is not { } ttft) continue;
            (seen.Add(outcome.Adapter) ? cold : warm).Add(ttft);
        }
        return new RunSummary
        {
            Name = name,
            Target = target,
            Scenario = scenario,
            Mode = mode,
            Settings = settings,
            Planned = planned,
            Sent = outcomes.Count,
            Shed = shed,
            Succeeded = ok.Length,
            WallSeconds = wallSeconds,
            RequestsPerSecond = wallSeconds > 0 ? ok.Length / wallSeconds : 0,
            OutputTokensPerSecond = wallSeconds > 0 ? tokens / wallSeconds : 0,
            OutputTokens = tokens,
            LatencyMs = PercentileSummary.Of(ok.Select(outcome => outcome.LatencyMs)),
            TimeToFirstTokenMs = PercentileSummary.Of(ok.Select(outcome => outcome.TimeToFirstTokenMs).OfType<double>()),
            ServerTimeToFirstTokenMs = PercentileSummary.Of(ok.Select(outcome => outcome.ServerTimeToFirstTokenMs).OfType<double>()),
            ColdServerTimeToFirstTokenMs = PercentileSummary.Of(cold),
            WarmServerTimeToFirstTokenMs = PercentileSummary.Of(warm),
            ServerAdapterLoadMs = PercentileSummary.Of(ok.Select(outcome => outcome.ServerAdapterLoadMs).OfType<double>().Where(ms => ms > 0)),
            TimePerOutputTokenMs = PercentileSummary.Of(ok.Select(outcome => outcome.TimePerOutputTokenMs).OfType<double>()),
            StatusCounts = Count(outcomes.Select(outcome => outcome.Status)),
            ServedFrom = Count(ok.Select(outcome => outcome.ServedFrom ?? "unknown")),
            Churn = churn,
        };
    }

    private static SortedDictionary<string, int> Count(IEnumerable<string> keys)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }
}

/// <summary>Admin calls made while serving (adapter churn).</summary>
public sealed record ChurnSummary(int Cycles, PercentileSummary? UnloadMs, PercentileSummary? LoadMs, IReadOnlyDictionary<string, int> StatusCounts);
