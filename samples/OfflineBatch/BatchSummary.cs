namespace InferServer.Samples.OfflineBatch;

/// <summary>What a batch did.</summary>
public sealed record BatchSummary(int Completed, long CompletionTokens, TimeSpan Elapsed)
{
    public double TokensPerSecond => CompletionTokens / Math.Max(Elapsed.TotalSeconds, 1e-9);
}
