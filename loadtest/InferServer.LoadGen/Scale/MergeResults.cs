namespace InferServer.LoadGen.Scale;

/// <summary>The merge benchmark's JSON (benchmarks/InferServer.Benchmarks merge --json), read by scale-report.</summary>
public sealed record MergeResults(string Model, int PromptTokens, int NewTokens, string LoadAverageStart, string LoadAverageEnd, IReadOnlyList<MergeCell> Cells);

/// <summary>One mix at one concurrency in one round, merge cache on and off, measured back to back.</summary>
public sealed record MergeCell(string Mix, int Concurrency, int Round, double OnTokensPerSecond, double OffTokensPerSecond, double MergedShare,
    double OnTokensPerCpuSecond = double.NaN, double OffTokensPerCpuSecond = double.NaN)
{
    /// <summary>On over off, wall-clock throughput.</summary>
    public double Ratio => OnTokensPerSecond / OffTokensPerSecond;

    /// <summary>On over off, tokens per CPU-second of the benchmark process (NaN when not recorded).</summary>
    public double CpuRatio => OnTokensPerCpuSecond / OffTokensPerCpuSecond;
}
