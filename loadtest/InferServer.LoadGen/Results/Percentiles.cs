namespace InferServer.LoadGen.Results;

/// <summary>p50/p90/p99 of a sample, or null when the sample is empty.</summary>
public sealed record PercentileSummary(int Count, double P50, double P90, double P99, double Mean, double Max)
{
    /// <summary>The summary of <paramref name="values"/>, or null when there are none.</summary>
    public static PercentileSummary? Of(IEnumerable<double> values)
    {
        var sorted = values.ToArray();
        if (sorted.Length == 0) return null;
        Array.Sort(sorted);
        return new PercentileSummary(sorted.Length, Percentiles.OfSorted(sorted, 50), Percentiles.OfSorted(sorted, 90),
            Percentiles.OfSorted(sorted, 99), sorted.Average(), sorted[^1]);
    }
}

/// <summary>Percentiles by linear interpolation between closest ranks (numpy's default "linear" method, Hyndman–Fan type 7).</summary>
public static class Percentiles
{
    /// <summary>The <paramref name="percentile"/>-th percentile (0..100) of an ascending, non-empty sample.</summary>
    public static double OfSorted(IReadOnlyList<double> sorted, double percentile)
    {
        if (sorted.Count == 0) throw new ArgumentException("the sample is empty", nameof(sorted));
        ArgumentOutOfRangeException.ThrowIfLessThan(percentile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        var rank = percentile / 100 * (sorted.Count - 1);
        var lower = (int)Math.Floor(rank);
        var upper = Math.Min(lower + 1, sorted.Count - 1);
        return sorted[lower] + (rank - lower) * (sorted[upper] - sorted[lower]);
    }
}
