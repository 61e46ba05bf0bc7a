using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Lora;

/// <summary>
/// Multi-adapter LoRA on an embedding table (PEFT <c>lora.Embedding</c>): a lookup is a linear layer on a one-hot input, so
/// the pool holds <c>lora_embedding_A</c> [r, vocabulary] as its A ([r, in]) and <c>lora_embedding_B</c> [hidden, r] as its
/// B ([out, r], scale folded in), and a row with token id t gains <c>s·B·A[:, t]</c>: PEFT's
/// <c>F.embedding(x, A.T) @ B.T * scaling</c>. Rows are grouped by slot as in <see cref="LoraOps"/>.
/// </summary>
public static class LoraEmbeddingOps
{
    /// <summary>
    /// Adds each row's adapter delta into <paramref name="y"/> (<c>[rows, hidden]</c>, the base lookup) in place, for int64
    /// <paramref name="ids"/> <c>[rows]</c>. Reference semantics:
    /// <code>
    /// for row in range(rows):
    ///     slot = token_slots[row]; r = pool.rank_of(slot)
    ///     if slot != 0 and r > 0:
    ///         y[row] += pool.B[slot, :, :r] @ pool.A[slot, :r, ids[row]]     # pool.B already holds s·B
    /// </code>
    /// </summary>
    public static void AddDelta(Tensor y, Tensor ids, LoraSlotPool pool, LoraBatch batch)
    {
        ArgumentNullException.ThrowIfNull(y);
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(batch);
        if (ids.ndim != 1 || ids.shape[0] != batch.Rows || y.ndim != 2 || y.shape[0] != batch.Rows || y.shape[1] != pool.OutFeatures)
        {
            throw new ArgumentException(
                $"LoRA embedding delta needs ids [{batch.Rows}] and y [{batch.Rows}, {pool.OutFeatures}]; got ids [{string.Join(", ", ids.shape)}] and y [{string.Join(", ", y.shape)}].");
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        for (var i = 0; i < batch.DistinctSlots.Count; i++)
        {
            var group = batch.Group(i);
            if (group.Slot >= pool.Slots || pool.RankOf(group.Slot) == 0)
            {
                continue;
            }

            // A's columns for the group's ids, [r, n], then (A[:, ids])ᵀ·(s·B)ᵀ = [n, hidden].
            var groupIds = group.IsContiguous ? ids.narrow(0, group.Start, group.Count) : ids.index_select(0, group.RowIndex);
            var rows = pool.ATransposed(group.Slot).index_select(0, groupIds);
            // Batch-invariant mode pads the rows so that each row's product is rounded alike whatever the group's size.
            var delta = BatchInvariance.IsOn ? BatchInvariance.MatMul(rows, pool.BTransposed(group.Slot)) : rows.mm(pool.BTransposed(group.Slot));
            if (group.IsContiguous)
            {
                y.narrow(0, group.Start, group.Count).PlusInPlace(delta);
            }
            else
            {
                y.index_add_(0, group.RowIndex, delta, TensorMath.One);
            }
        }
    }
}
