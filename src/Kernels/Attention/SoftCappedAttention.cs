using static TorchSharp.torch;

namespace InferServer.Kernels.Attention;

/// <summary>
/// Causal attention over the <see cref="KvCache"/> with Gemma 2's attention-logit soft-capping: scores = q·kᵀ·scale, then
/// cap·tanh(scores / cap) before the mask and the softmax (transformers' eager_attention_forward with softcap), which
/// scaled_dot_product_attention cannot express. Same cache layout, decode groups and masks (causal, sliding window) as
/// <see cref="PagedAttention.Causal"/>; the softmax runs in float32, as transformers runs it.
/// </summary>
public static class SoftCappedAttention
{
    /// <summary>
    /// q [tokens, heads, headDim]; k, v [tokens, kvHeads, headDim] for the new tokens, written into the cache first.
    /// Returns [tokens, heads · headDim].
    /// </summary>
    public static Tensor Causal(Tensor q, Tensor k, Tensor v, Tensor cacheKeys, Tensor cacheValues, AttentionBatch batch, double scale, double softCap)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(batch);
        cacheKeys.index_copy_(0, batch.WriteSlots, k);
        cacheValues.index_copy_(0, batch.WriteSlots, v);
        if (batch.InvariantRows is { } invariantRows)
        {
            // Batch-invariant mode: each row over exactly its visible context, so no mask is needed.
            return RowwiseAttention.Causal(q, cacheKeys, cacheValues, invariantRows,
                (query, keys, values) => Attend(query, keys, values, null, scale, softCap)).flatten(1);
        }

        var heads = q.shape[1];
        var output = empty_like(q);
        GroupedDecodeAttention.Run(q, cacheKeys, cacheValues, batch, output,
            (query, keys, values, visible) => Attend(query, keys, values, visible, scale, softCap));

        foreach (var item in batch.Prefill)
        {
            var sequence = item.Sequence;
            var query = q.narrow(0, sequence.QueryStart, sequence.QueryLength).transpose(0, 1);
            var keys = ExpandHeads(cacheKeys.index_select(0, item.Slots).transpose(0, 1), heads);
            var values = ExpandHeads(cacheValues.index_select(0, item.Slots).transpose(0, 1), heads);
            // A null mask means plain causal from position 0 (queries are the whole context).
            var mask = item.Mask ?? ones(sequence.QueryLength, sequence.ContextLength, ScalarType.Bool, q.device).tril();
            output.narrow(0, sequence.QueryStart, sequence.QueryLength).copy_(Attend(query, keys, values, mask, scale, softCap).transpose(0, 1));
        }
        return output.flatten(1);
    }

    private static Tensor Attend(Tensor query, Tensor keys, Tensor values, Tensor? visible, double scale, double softCap)
    {
        var scores = query.matmul(keys.transpose(-2, -1)).to(ScalarType.Float32).Times(scale);
        scores = scores.DividedBy(softCap).tanh().Times(softCap);
        var probabilities = (visible is null ? scores : scores.masked_fill(visible.logical_not(), TensorMath.NegativeInfinity)).softmax(-1);
        return probabilities.to(query.dtype).matmul(values);
    }

    private static Tensor ExpandHeads(Tensor kv, long heads)
    {
        var kvHeads = kv.shape[^3];
        return kvHeads == heads ? kv : kv.repeat_interleave(heads / kvHeads, dim: -3);
    }
}
