using static TorchSharp.torch;

namespace InferServer.Kernels.Attention;

/// <summary>
/// The decode rows of one step attend group by group (<see cref="AttentionBatch.DecodeGroup"/>). Grouped-query attention
/// is computed without repeating the KV heads: the query heads that share a KV head are viewed as that head's query
/// positions ([rows, kvHeads, group, headDim] against [rows, kvHeads, context, headDim]), which is the same arithmetic
/// per head as transformers' repeat_kv but never materialises a copy of every context that is heads/kvHeads times larger.
/// </summary>
internal static class GroupedDecodeAttention
{
    /// <summary>Attends one group: query [rows, kvHeads, group, headDim], keys and values [rows, kvHeads, context, headDim], mask [rows, 1, 1, context].</summary>
    public delegate Tensor Attend(Tensor query, Tensor keys, Tensor values, Tensor visible);

    /// <summary>Writes every decode row's attention output, [heads, headDim], into <paramref name="output"/> at its row.</summary>
    public static void Run(Tensor q, Tensor cacheKeys, Tensor cacheValues, AttentionBatch batch, Tensor output, Attend attend)
    {
        var (heads, headDim, kvHeads) = (q.shape[1], q.shape[2], cacheKeys.shape[1]);
        foreach (var group in batch.Decode)
        {
            var rows = group.Rows.shape[0];
            var query = q.index_select(0, group.Rows).view(rows, kvHeads, heads / kvHeads, headDim);
            var keys = cacheKeys[group.Slots].transpose(1, 2);
            var values = cacheValues[group.Slots].transpose(1, 2);
            output.index_copy_(0, group.Rows, attend(query, keys, values, group.Mask).reshape(rows, heads, headDim));
        }
    }
}
