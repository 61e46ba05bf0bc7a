using static TorchSharp.torch;

namespace InferServer.Kernels.Attention;

/// <summary>
/// Causal attention for batch-invariant mode: each query row attends in its own call over exactly its visible context
/// (positions 0..p, or the sliding window ending at p), with no padding and no mask, its query and its keys and values copied
/// into fresh tensors: the call's shapes, strides and alignment depend on p alone, so the row's reduction is the same whether
/// it is a decode step or one row of a prefill chunk, whatever the chunking, the other sequences in the step, or how its keys
/// and values reached the cache (computed now or by an earlier request). The batched paths of <see cref="PagedAttention"/>
/// pad decode contexts to the longest one and attend a prefill chunk in one call, and the kernel's reduction over the keys
/// changes with that length.
/// </summary>
/// <remarks>
/// <para>
/// Not one call for the rows that share a context length: libtorch's CPU attention and <c>bmm</c> gave a row other bits in a
/// batch of two than alone at head size 16 (the demo models'; 32 and 128 agreed), so a row's call holds that row only
/// (BatchInvarianceTests).
/// </para>
/// <para>
/// Grouped-query attention without repeating the keys: a row's query heads that share a KV head are that call's query rows
/// (<c>[1, kvHeads, heads / kvHeads, headDim]</c> against <c>[1, kvHeads, length, headDim]</c>), the same arithmetic as
/// repeating each KV head for its query heads, without copying the keys and values once per query head.
/// </para>
/// </remarks>
internal static class RowwiseAttention
{
    /// <summary>
    /// q [tokens, heads, headDim], after the step's keys and values were written to the cache. Returns [tokens, heads, headDim].
    /// <paramref name="attend"/> maps one row's queries <c>[1, kvHeads, heads / kvHeads, headDim]</c> and its visible keys and
    /// values <c>[1, kvHeads, length, headDim]</c> to <c>[1, kvHeads, heads / kvHeads, headDim]</c> (default:
    /// scaled_dot_product_attention without a mask); Gemma 2's soft-capped attention passes its own, so the mode holds for it too.
    /// </summary>
    public static Tensor Causal(Tensor q, Tensor cacheKeys, Tensor cacheValues, InvariantAttentionRows rows,
        Func<Tensor, Tensor, Tensor, Tensor>? attend = null)
    {
        attend ??= (query, keys, values) => nn.functional.scaled_dot_product_attention(query, keys, values);
        var heads = q.shape[1];
        var headDim = q.shape[2];
        var kvHeads = cacheKeys.shape[1];
        var output = empty_like(q);
        for (var i = 0; i < rows.Count; i++)
        {
            var (row, length, slots) = rows[i];
            using var scope = NewDisposeScope();
            // Copies, so the row's tensors start at a fresh allocation whatever its place in the step.
            var query = q.narrow(0, row, 1).clone().view(1, kvHeads, heads / kvHeads, headDim);
            var keys = cacheKeys.index_select(0, slots).view(1, length, kvHeads, headDim).transpose(1, 2);
            var values = cacheValues.index_select(0, slots).view(1, length, kvHeads, headDim).transpose(1, 2);
            output.narrow(0, row, 1).copy_(attend(query, keys, values).view(1, heads, headDim));
        }

        return output;
    }
}
