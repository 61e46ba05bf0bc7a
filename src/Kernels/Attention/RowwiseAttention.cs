using static TorchSharp.torch;

namespace InferServer.Kernels.Attention;

/// <summary>
/// Causal attention for batch-invariant mode: every query row attends over exactly its visible context (positions 0..p, or the
/// sliding window ending at p), with no padding and no mask, and the rows whose visible context has the same length attend
/// together in one call (<see cref="InvariantAttentionGroup"/>), each as its own batch element. A batch element's reduction is
/// fixed by its own shapes — the context length, the heads, the head size — never by how many elements share the call, so a
/// row comes out the same whether it is a decode step or one row of a prefill chunk, whatever the chunking, the other sequences
/// in the step, or how its keys and values reached the cache (computed now or by an earlier request). The batched paths of
/// <see cref="PagedAttention"/> pad decode contexts to the longest one and attend a prefill chunk in one call, and the
/// kernel's reduction over the keys changes with that length.
/// </summary>
/// <remarks>
/// Grouped-query attention without repeating the keys: a row's query heads that share a KV head are that batch element's
/// query rows (<c>[rows, kvHeads, heads / kvHeads, headDim]</c> against <c>[rows, kvHeads, length, headDim]</c>), which is the
/// same arithmetic as repeating each KV head for its query heads, and the same for every row of the model.
/// </remarks>
internal static class RowwiseAttention
{
    /// <summary>
    /// q [tokens, heads, headDim], after the step's keys and values were written to the cache. Returns [tokens, heads, headDim].
    /// <paramref name="attend"/> maps the group's queries <c>[rows, kvHeads, heads / kvHeads, headDim]</c> and their visible keys
    /// and values <c>[rows, kvHeads, length, headDim]</c> to <c>[rows, kvHeads, heads / kvHeads, headDim]</c> (default:
    /// scaled_dot_product_attention without a mask); Gemma 2's soft-capped attention passes its own, so the mode holds for it too.
    /// </summary>
    public static Tensor Causal(Tensor q, Tensor cacheKeys, Tensor cacheValues, IReadOnlyList<InvariantAttentionGroup> groups,
        Func<Tensor, Tensor, Tensor, Tensor>? attend = null)
    {
        attend ??= (query, keys, values) => nn.functional.scaled_dot_product_attention(query, keys, values);
        var heads = q.shape[1];
        var headDim = q.shape[2];
        var kvHeads = cacheKeys.shape[1];
        var output = empty_like(q);
        foreach (var group in groups)
        {
            var rows = group.RowCount;
            // Fresh gathers: a row's element has the same shapes and strides in a group of one as in a group of many.
            var query = q.index_select(0, group.Rows).view(rows, kvHeads, heads / kvHeads, headDim);
            var keys = cacheKeys.index_select(0, group.Slots).view(rows, group.Length, kvHeads, headDim).transpose(1, 2);
            var values = cacheValues.index_select(0, group.Slots).view(rows, group.Length, kvHeads, headDim).transpose(1, 2);
            output.index_copy_(0, group.Rows, attend(query, keys, values).reshape(rows, heads, headDim));
        }

        return output;
    }
}
