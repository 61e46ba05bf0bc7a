using static TorchSharp.torch;

namespace InferServer.Kernels.Attention;

/// <summary>
/// Scaled dot-product attention over tokens whose keys and values live in a <see cref="KvCache"/> (vLLM's
/// PagedAttention idea: the cache is a pool of slots and each sequence a list of slot indices). Grouped-query attention
/// (fewer KV heads than query heads) repeats each KV head for its group, as transformers' repeat_kv does.
/// </summary>
public static class PagedAttention
{
    /// <summary>
    /// Causal attention for one layer. q [tokens, heads, headDim]; k, v [tokens, kvHeads, headDim] for the new tokens,
    /// written into the cache at <see cref="AttentionBatch.WriteSlots"/> first. Returns [tokens, heads · headDim].
    /// </summary>
    public static Tensor Causal(Tensor q, Tensor k, Tensor v, Tensor cacheKeys, Tensor cacheValues, AttentionBatch batch)
    {
        cacheKeys.index_copy_(0, batch.WriteSlots, k);
        cacheValues.index_copy_(0, batch.WriteSlots, v);
        if (batch.InvariantRows is { } invariantRows)
        {
            return RowwiseAttention.Causal(q, cacheKeys, cacheValues, invariantRows).flatten(1);
        }

        var heads = q.shape[1];
        var output = empty_like(q);
        GroupedDecodeAttention.Run(q, cacheKeys, cacheValues, batch, output,
            (query, keys, values, visible) => nn.functional.scaled_dot_product_attention(query, keys, values, visible));

        foreach (var item in batch.Prefill)
        {
            var sequence = item.Sequence;
            var query = q.narrow(0, sequence.QueryStart, sequence.QueryLength).transpose(0, 1);
            var keys = ExpandHeads(cacheKeys.index_select(0, item.Slots).transpose(0, 1), heads);
            var values = ExpandHeads(cacheValues.index_select(0, item.Slots).transpose(0, 1), heads);
            var attended = item.Mask is null
                ? nn.functional.scaled_dot_product_attention(query, keys, values, is_casual: true)
                : nn.functional.scaled_dot_product_attention(query, keys, values, item.Mask);
            output.narrow(0, sequence.QueryStart, sequence.QueryLength).copy_(attended.transpose(0, 1));
        }
        return output.flatten(1);
    }

    /// <summary>
    /// Bidirectional attention (encoders such as BERT): every token of a sequence sees every token of the same sequence.
    /// q, k, v [tokens, heads, headDim]; <paramref name="sequences"/> gives each sequence's rows. Returns [tokens, heads · headDim].
    /// </summary>
    public static Tensor Bidirectional(Tensor q, Tensor k, Tensor v, IReadOnlyList<(int Start, int Length)> sequences)
    {
        var output = empty_like(q);
        foreach (var (start, length) in sequences)
        {
            var attended = nn.functional.scaled_dot_product_attention(
                q.narrow(0, start, length).transpose(0, 1),
                k.narrow(0, start, length).transpose(0, 1),
                v.narrow(0, start, length).transpose(0, 1));
            output.narrow(0, start, length).copy_(attended.transpose(0, 1));
        }
        return output.flatten(1);
    }

    /// <summary>Repeats each KV head for its group of query heads along dimension −3.</summary>
    private static Tensor ExpandHeads(Tensor kv, long heads)
    {
        var kvHeads = kv.shape[^3];
        return kvHeads == heads ? kv : kv.repeat_interleave(heads / kvHeads, dim: -3);
    }
}
