using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Lora;

/// <summary>
/// <see cref="LoraOps.Linear"/> in batch-invariant mode (<see cref="BatchInvariance"/>): the base product runs with rows padded
/// to <see cref="BatchInvariance.RowQuantum"/>, and every row's delta is computed the same way whatever adapters share the step.
/// </summary>
/// <remarks>
/// The delta: each adapter's rows are cut into blocks of <see cref="BatchInvariance.RowQuantum"/> rows (the last one padded with
/// zero rows), and every block is one batch element of two <c>bmm</c> — <c>[4, in]·Aᵀ[in, r]</c> then <c>[4, r]·Bᵀ[r, out]</c>
/// at that adapter's own rank r, with A and B gathered per block — one pair of calls per distinct rank in the step instead of
/// one per adapter. A row's element has the same shapes whatever the step holds, and libtorch's CPU <c>bmm</c> computes each
/// element on its own with shapes fixed per element (checked in BatchInvarianceTests for 1 to 1,024 rows and mixed adapters).
/// The grouped, gathered and stacked paths of <see cref="LoraOps"/> are not used here: their products round a row differently
/// with the number of rows per adapter and the batch's largest rank (measured). The delta is added after the product, never
/// fused into it (<c>addmm_</c> may accumulate onto y first).
/// </remarks>
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

    /// <summary>Adds each adapted row's <c>x·Aᵀ·Bᵀ</c> into y (both <c>[rows, features]</c>), one block layout per rank.</summary>
    internal static void AddDelta(Tensor y, Tensor x, LoraSlotPool pool, LoraBatch batch)
    {
        using var noGrad = torch.no_grad();
        foreach (var blocks in RowBlocks.ByRank(pool, batch))
        {
            AddBlocks(y, x, pool, blocks);
        }
    }

    private static void AddBlocks(Tensor y, Tensor x, LoraSlotPool pool, RowBlocks blocks)
    {
        const int quantum = BatchInvariance.RowQuantum;
        var rows = tensor(blocks.Rows, device: x.device);
        var selected = x.index_select(0, rows);
        var padded = blocks.Rows.Length == blocks.Count * quantum;
        var positions = padded ? null : tensor(blocks.Positions, device: x.device);
        var stacked = positions is null
            ? selected
            : zeros([blocks.Count * quantum, x.shape[1]], x.dtype, x.device).index_copy_(0, positions, selected);
        var slots = tensor(blocks.Slots, device: x.device);
        var down = pool.A.narrow(1, 0, blocks.Rank).index_select(0, slots);                        // [blocks, r, in]
        var up = pool.B.narrow(2, 0, blocks.Rank).index_select(0, slots);                          // [blocks, out, r]
        var shrunk = bmm(stacked.view(blocks.Count, quantum, -1), down.transpose(1, 2));          // [blocks, 4, r]
        var delta = bmm(shrunk, up.transpose(1, 2)).view(blocks.Count * quantum, -1);            // [blocks · 4, out]
        y.index_add_(0, rows, positions is null ? delta : delta.index_select(0, positions), TensorMath.One);
    }

    /// <summary>
    /// The adapted rows of one rank in blocks of <see cref="BatchInvariance.RowQuantum"/> rows of one adapter each: block b is
    /// rows <c>Rows[..]</c> at <c>Positions</c> b·4 + j of the stacked input, on slot <c>Slots[b]</c>.
    /// </summary>
    private sealed record RowBlocks(int Rank, long[] Rows, long[] Positions, long[] Slots)
    {
        public int Count => Slots.Length;

        public static IEnumerable<RowBlocks> ByRank(LoraSlotPool pool, LoraBatch batch)
        {
            const int quantum = BatchInvariance.RowQuantum;
            var byRank = new SortedDictionary<int, (List<long> Rows, List<long> Positions, List<long> Slots)>();
            for (var i = 0; i < batch.DistinctSlots.Count; i++)
            {
                var group = batch.Group(i);
                var rank = group.Slot < pool.Slots ? pool.RankOf(group.Slot) : 0;
                if (rank == 0)
                {
                    continue;
                }

                if (!byRank.TryGetValue(rank, out var blocks))
                {
                    byRank.Add(rank, blocks = ([], [], []));
                }

                var rowList = group.RowList;
                for (var j = 0; j < rowList.Length; j++)
                {
                    if (j % quantum == 0)
                    {
                        blocks.Slots.Add(group.Slot);
                    }

                    blocks.Rows.Add(rowList[j]);
                    blocks.Positions.Add((blocks.Slots.Count - 1) * quantum + j % quantum);
                }
            }

            return byRank.Select(pair => new RowBlocks(pair.Key, [.. pair.Value.Rows], [.. pair.Value.Positions], [.. pair.Value.Slots]));
        }
    }
}
