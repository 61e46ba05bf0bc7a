namespace InferServer.Kernels.Attention;

/// <summary>
/// One sequence's part of a model step. Its new tokens are rows [QueryStart, QueryStart + QueryLength) of the
/// step's flattened token batch; after this step it holds ContextLength tokens whose KV slots are
/// <see cref="KvSlots"/> in order (the last QueryLength of them are the new tokens' slots).
/// </summary>
public sealed record SequenceSpan(int QueryStart, int QueryLength, int ContextLength, long[] KvSlots)
{
    /// <summary>
    /// The sequence's prompt length when the engine knows it (null: this step's <see cref="ContextLength"/> stands for it,
    /// as when a whole prompt is one step). LongRoPE picks its factors from it, so that a prompt's rotation does not depend
    /// on how its prefill was chunked or whether it was recomputed after preemption.
    /// </summary>
    public int? PromptLength { get; init; }

    /// <summary>Absolute position of the first new token.</summary>
    public int FirstQueryPosition => ContextLength - QueryLength;
}
