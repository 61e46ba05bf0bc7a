namespace InferServer.Benchmarks;

/// <summary>Summaries shared by the benchmarks.</summary>
internal static class Statistics
{
    /// <summary>The median; for an even count, the mean of the middle pair. The input is left as it is.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
