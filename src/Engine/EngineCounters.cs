namespace InferServer.Engine;

/// <summary>
/// The cumulative counters of <see cref="EngineStatus"/>. Written by the engine thread (by the mode that runs the step),
/// read by any thread; the supervisor also reads <see cref="Steps"/> to tell a good step from an idle turn.
/// </summary>
internal sealed class EngineCounters
{
    private long steps, rowsProcessed, promptTokensProcessed, tokensGenerated;

    public long Steps => Interlocked.Read(ref steps);

    public long RowsProcessed => Interlocked.Read(ref rowsProcessed);

    public long PromptTokensProcessed => Interlocked.Read(ref promptTokensProcessed);

    public long TokensGenerated => Interlocked.Read(ref tokensGenerated);

    /// <summary>A step over <paramref name="rows"/> rows ran successfully.</summary>
    public void StepRan(int rows)
    {
        Interlocked.Increment(ref steps);
        Interlocked.Add(ref rowsProcessed, rows);
    }

    public void PromptTokens(long count) => Interlocked.Add(ref promptTokensProcessed, count);

    public void TokenGenerated() => Interlocked.Increment(ref tokensGenerated);
}
