using static TorchSharp.torch;

namespace InferServer.Kernels.Attention;

/// <summary>
/// Causal attention for batch-invariant mode: each query row attends in its own call over exactly its visible context
/// (positions 0..p, or the sliding window ending at p), with no padding and no mask. The call's shapes and strides depend on
/// p alone, so the row's reduction is the same whether it is a decode step or one row of a prefill chunk, whatever the chunking,
/// the other sequences in the step, or how its keys and values reached the cache (computed now or by an earlier request).
/// The batched paths of <see cref="PagedAttention"/> pad decode contexts to the longest one and attend a prefill chunk in one
/// call, and the kernel's reduction over the keys changes with that length.
/// </summary>
internal static class RowwiseAttention
{
    /// <summary>
    /// q [tokens, heads, headDim], after the step's keys and values were written to the cache. Returns [tokens, heads, headDim].
    /// <paramref name="attend"/> maps one row's query [heads, 1, headDim] and its whole visible keys and values
    /// [heads, length, headDim] to [heads, 1, headDim] (default: scaled_dot_product_attention without a mask); Gemma 2's
    /// soft-capped attention passes its own, so the mode holds for it too.
    /// </summary>
    public static Tensor Causal(Tensor q, Tensor cacheKeys, Tensor cacheValues, AttentionBatch batch, Tensor[] contextSlots,
        Func<Tensor, Tensor, Tensor, Tensor>? attend = null)
    {
        attend ??= (query, keys, values) => nn.functional.scaled_dot_product_attention(query, keys, values);
        var heads = q.shape[1];
        var output = empty_like(q);
        for (var s = 0; s < batch.Sequences.Count; s++)
        {
            var sequence = batch.Sequences[s];
            // [kvHeads, context, headDim] views of one fresh gather: a row's narrowed view has the same strides and offset whether
            // the gather held the whole chunk's context or only that row's.
            var keys = cacheKeys.index_select(0, contextSlots[s]).transpose(0, 1);
            var values = cacheValues.index_select(0, contextSlots[s]).transpose(0, 1);
            for (var k = 0; k < sequence.QueryLength; k++)
            {
                var position = sequence.FirstQueryPosition + k;
                var first = batch.SlidingWindow is int window ? Math.Max(0, position - window + 1) : 0;
                var length = position - first + 1;
                var row = sequence.QueryStart + k;
                // A copy, so the row starts at a fresh allocation whatever its place in the step.
                var query = q.narrow(0, row, 1).transpose(0, 1).clone();
                var attended = attend(query,
                    ExpandHeads(keys.narrow(1, first, length), heads), ExpandHeads(values.narrow(1, first, length), heads));
                output.narrow(0, row, 1).copy_(attended.transpose(0, 1));
            }
        }

        return output;
    }

    private static Tensor ExpandHeads(Tensor kv, long heads)
    {
        var kvHeads = kv.shape[0];
        return kvHeads == heads ? kv : kv.repeat_interleave(heads / kvHeads, dim: 0);
    }
}
