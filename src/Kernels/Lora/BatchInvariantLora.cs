using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Lora;

/// <summary>
/// <see cref="LoraOps.Linear"/> in batch-invariant mode (<see cref="BatchInvariance"/>): the base product and each adapter's
/// low-rank product run with rows padded to <see cref="BatchInvariance.RowQuantum"/>, and every adapter's rows at that
/// adapter's own rank, so a row's delta is computed the same way whatever adapters share the step. The gathered and stacked
/// paths are not used here: their <c>bmm</c> rounds a row differently with the number of rows and the batch's largest rank
/// (measured). The delta is added after the product, never fused into it (<c>addmm_</c> may accumulate onto y first).
/// </summary>
internal static class BatchInvariantLora
{
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias, LoraSlotPool? pool, LoraBatch? batch)
    {
        var y = BatchInvariance.Linear(x, weight, bias);
        if (pool is null || batch is null || !batch.HasAdapters)
        {
            return y;
        }

        using var scope = torch.NewDisposeScope();
        var y2 = y.ndim == 2 ? y : y.view(-1, y.shape[^1]);
        var x2 = x.ndim == 2 ? x : x.reshape(-1, x.shape[^1]);
        LoraOps.ScaleDoraRows(y2, bias, pool, batch);
        AddDelta(y2, x2, pool, batch);
        return y;
    }

    private static void AddDelta(Tensor y, Tensor x, LoraSlotPool pool, LoraBatch batch)
    {
        using var noGrad = torch.no_grad();
        for (var i = 0; i < batch.DistinctSlots.Count; i++)
        {
            var group = batch.Group(i);
            if (group.Slot >= pool.Slots || pool.RankOf(group.Slot) == 0)
            {
                continue;
            }

            if (group.IsContiguous)
            {
                var delta = BatchInvariance.MatMul(x.narrow(0, group.Start, group.Count), pool.ATransposed(group.Slot), pool.BTransposed(group.Slot));
                y.narrow(0, group.Start, group.Count).PlusInPlace(delta);
            }
            else
            {
                var delta = BatchInvariance.MatMul(x.index_select(0, group.RowIndex), pool.ATransposed(group.Slot), pool.BTransposed(group.Slot));
                y.index_add_(0, group.RowIndex, delta, TensorMath.One);
            }
        }
    }
}
