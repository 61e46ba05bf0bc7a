namespace InferServer.LoadGen.Soak;

/// <summary>
/// What one soak run sends and how long. Everything random is drawn from <see cref="Seed"/>, so a failing run is
/// repeated by running again with the same seed against the same model and adapters (timing still differs between runs,
/// so a race may need a few repeats; the seed fixes which calls are made, in which order, with which fates).
/// </summary>
public sealed record SoakOptions
{
    public int Seed { get; init; } = 1;

    /// <summary>Mixed traffic after the warm-up; the leak and RSS checks compare the state before and after it.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>The same traffic before the RSS reference is taken: pools, slots, merged copies and JIT reach their working size.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Closed-loop workers sending the steady mix.</summary>
    public int Concurrency { get; init; } = 12;

    /// <summary>New tokens of every call whose answer is checked (greedy, EOS ignored).</summary>
    public int MaxNewTokens { get; init; } = 12;

    /// <summary>
    /// Checked calls sample (temperature 0.8, top_p 0.95, a seed per prompt) instead of decoding greedily. For a server with
    /// Engine:BatchInvariant=true, whose seeded answers under any load must equal the solo ones bit for bit (issue 28).
    /// </summary>
    public bool SeededSampling { get; init; }

    /// <summary>New tokens of the calls sent to be cut by a deadline: long enough for the deadline to fall mid-generation.</summary>
    public int LongTokens { get; init; } = 64;

    /// <summary>Distinct prompts; each (front door, adapter, prompt) has one solo answer.</summary>
    public int Prompts { get; init; } = 2;

    /// <summary>Zipf exponent of adapter popularity (rank 0 is the base model).</summary>
    public double ZipfAlpha { get; init; } = 1.1;

    /// <summary>Unary calls sent at once every <see cref="BurstInterval"/>: more than the server queues, so some are refused.</summary>
    public int BurstSize { get; init; } = 48;

    public TimeSpan BurstInterval { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>One admin operation (unload+load, reload, load or unload of a copy) per interval.</summary>
    public TimeSpan ChurnInterval { get; init; } = TimeSpan.FromMilliseconds(700);

    /// <summary>How many of the valid adapters are churned (spread over the popularity ranks, the most popular included).</summary>
    public int ChurnAdapters { get; init; } = 4;

    /// <summary>Registered adapters that cannot be served (corrupt, truncated, wrong base): always FAILED_PRECONDITION.</summary>
    public IReadOnlyList<string> BrokenAdapters { get; init; } = [];

    /// <summary>Deadline of calls that are meant to finish; reaching it is a failure (the server stalled).</summary>
    public TimeSpan CallDeadline { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>How long the counters get to return to idle after the traffic stops.</summary>
    public TimeSpan SettleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Allowed RSS growth from after the warm-up to after the traffic (0.05 = 5 %).</summary>
    public double RssTolerance { get; init; } = 0.05;
}
