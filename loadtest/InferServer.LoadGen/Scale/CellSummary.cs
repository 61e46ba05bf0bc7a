using InferServer.LoadGen.Results;

namespace InferServer.LoadGen.Scale;

/// <summary>
/// One cell over its rounds: medians of the per-round values (throughput, percentiles, loads), and the spread of
/// throughput. Percentiles are each round's own p50/p90/p99, then the median over rounds.
/// </summary>
public sealed record CellSummary(
    string Cell,
    int Rounds,
    double TokensPerSecond,
    double TokensPerSecondMin,
    double TokensPerSecondMax,
    double RequestsPerSecond,
    int RequestsPerRound,
    double[] TimeToFirstTokenMs,
    double[] TimePerOutputTokenMs,
    double AdapterLoadsPerSecond,
    double SlotEvictionsPerSecond,
    double HostBytes,
    double DeviceBytes,
    double LoadAverageMin,
    double LoadAverageMax)
{
    public static CellSummary Of(string cell, IReadOnlyList<CellMeasurement> rounds) => new(
        cell,
        rounds.Count,
        Median(rounds.Select(round => round.Main.OutputTokensPerSecond)),
        rounds.Min(round => round.Main.OutputTokensPerSecond),
        rounds.Max(round => round.Main.OutputTokensPerSecond),
        Median(rounds.Select(round => round.Main.RequestsPerSecond)),
        (int)Median(rounds.Select(round => (double)round.Main.Succeeded)),
        Percentiles3(rounds.Select(round => round.Main.TimeToFirstTokenMs)),
        Percentiles3(rounds.Select(round => round.Main.TimePerOutputTokenMs)),
        Median(rounds.Select(round => round.AdapterLoadsPerSecond)),
        Median(rounds.Select(round => round.SlotEvictionsPerSecond)),
        rounds.Max(round => round.HostBytes),
        rounds.Max(round => round.DeviceBytes),
        rounds.Min(round => round.LoadAverage),
        rounds.Max(round => round.LoadAverage));

    /// <summary>The median; for an even count, the mean of the middle pair; NaN when empty.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(value => !double.IsNaN(value)).Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private static double[] Percentiles3(IEnumerable<PercentileSummary?> rounds)
    {
        var present = rounds.OfType<PercentileSummary>().ToList();
        return [Median(present.Select(p => p.P50)), Median(present.Select(p => p.P90)), Median(present.Select(p => p.P99))];
    }
}
