using InferServer.Kernels.Sampling;

namespace InferServer.Engine;

/// <summary>What a generation stream yields: token deltas, then exactly one <see cref="GenerationFinished"/>.</summary>
public abstract record GenerationEvent;

/// <summary>
/// New text, safe to show (never a split UTF-8 character, never a prefix of a stop string that may still complete),
/// with the token ids it came from and, when asked for, their log-probabilities.
/// </summary>
public sealed record TokenDelta(string Text, IReadOnlyList<int> TokenIds, IReadOnlyList<SampledToken>? Logprobs) : GenerationEvent;

/// <summary>The end of a generation.</summary>
/// <param name="Reason">Why it ended.</param>
/// <param name="Usage">Token counts.</param>
/// <param name="Timing">Where the time went.</param>
/// <param name="ServedFrom">Where the adapter was served from (metrics label).</param>
public sealed record GenerationFinished(FinishReason Reason, Usage Usage, GenerationTiming Timing, AdapterServedFrom ServedFrom) : GenerationEvent;

/// <summary>Why a generation ended.</summary>
public enum FinishReason
{
    /// <summary>max_new_tokens reached (or the model's context).</summary>
    Length,
    /// <summary>A stop string or stop token id.</summary>
    Stop,
    /// <summary>The model's end-of-sequence token.</summary>
    EndOfSequence,
}

/// <summary>Prompt and completion token counts.</summary>
public sealed record Usage(int PromptTokens, int CompletionTokens)
{
    /// <summary>Prompt tokens whose keys and values were reused from the prefix cache instead of prefilled.</summary>
    public int CachedPromptTokens { get; init; }
}

/// <summary>Per-request timing.</summary>
/// <param name="Submitted">When the engine accepted the request.</param>
/// <param name="QueueWait">From submission to the first scheduled step (includes <paramref name="AdapterLoad"/>).</param>
/// <param name="AdapterLoad">Time spent loading the adapter to host memory and a device slot for this request (zero when resident).</param>
/// <param name="TimeToFirstToken">From submission to the first generated token (queue wait + prefill).</param>
/// <param name="Total">From submission to the end (first token + decode).</param>
public sealed record GenerationTiming(DateTimeOffset Submitted, TimeSpan QueueWait, TimeSpan AdapterLoad, TimeSpan TimeToFirstToken, TimeSpan Total);

/// <summary>Where a request's adapter came from when it was scheduled (a metrics label).</summary>
public enum AdapterServedFrom
{
    /// <summary>No adapter: the base model.</summary>
    Base,
    /// <summary>Already in a device slot.</summary>
    Device,
    /// <summary>Loaded on demand (from disk or host) for this request.</summary>
    Loaded,
    /// <summary>Served through the merge cache.</summary>
    Merged,
}
