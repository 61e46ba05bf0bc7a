namespace InferServer.Engine;

/// <summary>
/// What the engine serves, picked once from the model when the engine is built: <see cref="GenerationMode"/> (a causal
/// LM, with its KV cache and scheduler) or <see cref="ClassificationMode"/> (an encoder). The front door hands it
/// requests; <see cref="EngineSupervisor"/> turns it on the engine thread and does the rest (failure counting, heartbeat,
/// status, drain), so that is written once for both. Each mode owns everything only it needs, and refuses requests of
/// the other kind itself, so nothing outside it asks which mode it is.
/// </summary>
internal interface IEngineMode : IDisposable
{
    /// <summary>What is being served.</summary>
    EngineModelInfo Model { get; }

    /// <summary>
    /// Validates and queues a generation, or throws (<see cref="ModelCapabilityException"/> when this mode cannot
    /// generate, the request exceptions of this folder otherwise). Any thread.
    /// </summary>
    GenerationSequence Submit(GenerationRequest request);

    /// <summary>
    /// Validates and queues a Classify or Embed job, or throws (<see cref="ModelCapabilityException"/> when this mode has
    /// no encoder, the request exceptions of this folder otherwise). Any thread.
    /// </summary>
    ClassificationJob Submit(ClassificationRequest request);

    /// <summary>
    /// One turn of the loop: take arrivals, reap, plan, run at most one step, hand out its results. A step that fails is
    /// contained here (its requests end) and reported in the outcome, for the supervisor to count. Engine thread only.
    /// </summary>
    TurnOutcome Turn();

    /// <summary>
    /// After <see cref="Turn"/> threw: ends the requests of that turn's step, or every request in the mode when no step
    /// was planned yet (the exception's scope is unknown). Engine thread only.
    /// </summary>
    void FailTurn(Exception error);

    /// <summary>The loop is ending: ends every running and waiting request with <paramref name="error"/>. Engine thread only.</summary>
    void EndAll(Exception error);

    /// <summary>
    /// Admissions are closed: ends the requests still queued for the engine thread (they never reached the loop), so
    /// none is left waiting for ever.
    /// </summary>
    void RefuseArrivals(Exception error);

    /// <summary>The part of <see cref="EngineStatus"/> only the mode knows. Engine thread, or before the loop starts.</summary>
    ModeLoad Load { get; }
}

/// <summary>How one turn went: nothing to run (the supervisor waits for work), a step ran, or a step failed.</summary>
/// <param name="RanStep">A step was planned (whether it then succeeded or not); false = idle.</param>
/// <param name="StepFailure">Why the step failed; its requests have already ended.</param>
internal readonly record struct TurnOutcome(bool RanStep, Exception? StepFailure = null)
{
    public static TurnOutcome Idle => new(false);

    public static TurnOutcome Stepped => new(true);

    public static TurnOutcome Failed(Exception error) => new(true, error);
}

/// <summary>A mode's share of <see cref="EngineStatus"/>: its requests on the device and its KV cache (none for encoders).</summary>
internal sealed record ModeLoad(
    int RunningRequests,
    IEnumerable<string?> RunningAdapters,
    IEnumerable<string?> WaitingAdapters,
    double KvCacheUsage,
    int KvBlocksInUse,
    long KvCacheBytes)
{
    /// <summary>KV blocks registered in the prefix cache (used or idle).</summary>
    public int KvBlocksCached { get; init; }

    /// <summary>Nothing running and no KV cache: an encoder's requests are never "running" between steps.</summary>
    public static ModeLoad None { get; } = new(0, [], [], 0, 0, 0);
}
