using InferServer.Kernels.Matmul;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Lora;

/// <summary>
/// Multi-adapter LoRA linear layers: each row of a batch may use a different adapter (Punica, arXiv:2310.18547; S-LoRA,
/// arXiv:2311.03285). The math is PEFT's: <c>y = x·W0ᵀ + bias + s·(x·Aᵀ)·Bᵀ</c> with A <c>[r, in]</c>, B <c>[out, r]</c>, and s
/// already folded into the pool's B (<see cref="LoraSlotPool"/>).
/// </summary>
public static class LoraOps
{
    /// <summary>y = x·Wᵀ + bias, plus each row's adapter delta. x: <c>[rows, in]</c> (or <c>[..., in]</c> with as many rows in all).
    /// With <paramref name="pool"/> or <paramref name="batch"/> null this is a plain linear layer.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias, LoraSlotPool? pool, LoraBatch? batch)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        if (BatchInvariance.IsOn)
        {
            return BatchInvariantLora.Linear(x, weight, bias, pool, batch);
        }

        var y = BaseLinear(x, weight, bias);
        if (pool is null || batch is null || !batch.HasAdapters)
        {
            return y;
        }

        if (x.ndim == 2)
        {
            ScaleDoraRows(y, bias, pool, batch);
            AddDelta(y, x, pool, batch);
        }
        else
        {
            // linear's output is contiguous, so the 2-D view writes through to y.
            using var scope = torch.NewDisposeScope();
            var y2 = y.view(-1, y.shape[^1]);
            ScaleDoraRows(y2, bias, pool, batch);
            AddDelta(y2, x.reshape(-1, x.shape[^1]), pool, batch);
        }

        return y;
    }

    /// <summary>
    /// y = x·Wᵀ + bias. A few float32 CPU rows (decode) go through <see cref="StreamingLinear"/>, which reads W once at
    /// close to the memory bandwidth: a decode step with few rows is nothing but these reads of the weights, and libtorch's
    /// sgemv/sgemm for one to eight rows read them at well under it here (docs/benchmarks.md, "Where a decode step goes").
    /// </summary>
    public static Tensor BaseLinear(Tensor x, Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        if (BatchInvariance.IsOn)
        {
            // The mode's padded product, never mv: a row must round the same whether it is alone or in a batch.
            return BatchInvariance.Linear(x, weight, bias);
        }

        return StreamingLinear.TryForward(x, weight, bias) ?? nn.functional.linear(x, weight, bias);
    }

    /// <summary>
    /// DoRA's magnitude on the base output, in place, for the rows of DoRA slots: <c>y += (g − 1) ⊙ (y − bias)</c>, so that
    /// with the delta (whose B already carries g) a row gets <c>bias + g ⊙ (x·W0ᵀ + s·(x·Aᵀ)·Bᵀ)</c> (see <see cref="LoraSlotPool"/>).
    /// y must hold <c>x·W0ᵀ + bias</c>: call before <see cref="AddDelta(Tensor, Tensor, LoraSlotPool, LoraBatch)"/>. Other rows are untouched.
    /// </summary>
    public static void ScaleDoraRows(Tensor y, Tensor? bias, LoraSlotPool pool, LoraBatch batch)
    {
        ArgumentNullException.ThrowIfNull(y);
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        for (var i = 0; i < batch.DistinctSlots.Count; i++)
        {
            var group = batch.Group(i);
            if (group.Slot >= pool.Slots || !pool.IsDora(group.Slot))
            {
                continue;
            }

            var factor = pool.RowScaleMinusOne[group.Slot];
            if (group.IsContiguous)
            {
                var rows = y.narrow(0, group.Start, group.Count);
                rows.PlusInPlace((bias is null ? rows : rows - bias).mul(factor));
            }
            else
            {
                var rows = y.index_select(0, group.RowIndex);
                y.index_add_(0, group.RowIndex, (bias is null ? rows : rows - bias).mul(factor), TensorMath.One);
            }
        }
    }

    /// <summary>Adds Σ s·(x·Aᵀ)·Bᵀ per row into <paramref name="y"/> in place (y: <c>[rows, out]</c>, x: <c>[rows, in]</c>).
    /// Rows of slot 0, and rows whose adapter does not adapt this module (<see cref="LoraSlotPool.RankOf"/> = 0), cost nothing.</summary>
    public static void AddDelta(Tensor y, Tensor x, LoraSlotPool pool, LoraBatch batch)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(batch);
        var active = new bool[batch.DistinctSlots.Count];
        var plan = Plan(y, x, pool, batch, active);
        if (plan.ActiveRows == 0)
        {
            return;
        }

        AddDelta(y, x, pool, batch, active, plan, ChoosePath(plan, x.device_type));
    }

    /// <summary>
    /// Reference semantics as an obviously correct per-row loop, in float64 and returned in x's dtype (vLLM's
    /// <c>punica_base.py</c> states its kernels the same way):
    /// <code>
    /// for row in range(rows):
    ///     y[row] = x[row] @ weight.T + bias
    ///     slot = token_slots[row]; r = pool.rank_of(slot)
    ///     if slot != 0 and r > 0:
    ///         if pool.is_dora(slot):                                           # DoRA: g = 1 + pool.row_scale_minus_one[slot]
    ///             y[row] += pool.row_scale_minus_one[slot] * (y[row] - bias)
    ///         y[row] += (x[row] @ pool.A[slot, :r, :].T) @ pool.B[slot, :, :r].T   # pool.B already holds s·B (DoRA: g·s·B)
    /// </code>
    /// The fast paths are tested against this.
    /// </summary>
    public static Tensor ReferenceLinear(Tensor x, Tensor weight, Tensor? bias, LoraSlotPool? pool, ReadOnlySpan<int> tokenSlots)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        if (x.ndim != 2)
        {
            throw new ArgumentException($"The reference takes x as [rows, in], got {x.ndim} dimensions.", nameof(x));
        }

        if (pool is not null && tokenSlots.Length != x.shape[0])
        {
            throw new ArgumentException($"{tokenSlots.Length} token slots for {x.shape[0]} rows.", nameof(tokenSlots));
        }

        var rows = new List<Tensor>();
        using (var scope = torch.NewDisposeScope())
        {
            var w = weight.to(ScalarType.Float64);
            var b = bias?.to(ScalarType.Float64);
            for (var row = 0; row < x.shape[0]; row++)
            {
                var xRow = x[row].to(ScalarType.Float64);
                var yRow = w.matmul(xRow);
                if (b is not null)
                {
                    yRow = yRow.Plus(b);
                }

                var slot = pool is null ? 0 : tokenSlots[row];
                var rank = pool is null ? 0 : pool.RankOf(slot);
                if (slot != 0 && rank > 0)
                {
                    if (pool!.IsDora(slot))
                    {
                        var baseOnly = b is null ? yRow : yRow - b;
                        yRow = yRow.Plus(pool.RowScaleMinusOne[slot].to(ScalarType.Float64) * baseOnly);
                    }

                    var a = pool.A[slot].narrow(0, 0, rank).to(ScalarType.Float64);
                    var up = pool.B[slot].narrow(1, 0, rank).to(ScalarType.Float64);
                    yRow = yRow.Plus(up.matmul(a.matmul(xRow)));
                }

                rows.Add(yRow.MoveToOuterDisposeScope());
            }
        }

        using var stackScope = torch.NewDisposeScope();
        var result = torch.stack(rows).to(x.dtype).MoveToOuterDisposeScope();
        foreach (var row in rows)
        {
            row.Dispose();
        }

        return result;
    }

    /// <summary>
    /// W0 + s·B·A as a NEW tensor in W0's dtype and device. W0 itself is never written, so unmerging is dropping the copy and
    /// gives back W0 bit for bit; subtracting s·B·A again would leave rounding residue in bf16/fp16 (docs/architecture.md, "Merge cache keeps copies").
    /// The product is formed in at least float32 and rounded once into W0's dtype.
    /// </summary>
    public static Tensor Merge(Tensor weight, Tensor a, Tensor b, double scale)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (weight.ndim != 2 || a.ndim != 2 || b.ndim != 2 || b.shape[0] != weight.shape[0] || a.shape[1] != weight.shape[1]
            || b.shape[1] != a.shape[0])
        {
            throw new ArgumentException(
                $"Cannot merge A [{string.Join(", ", a.shape)}] and B [{string.Join(", ", b.shape)}] into W [{string.Join(", ", weight.shape)}].");
        }

        var compute = weight.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        using var scope = torch.NewDisposeScope();
        var delta = b.to(compute, weight.device).mm(a.to(compute, weight.device)).TimesInPlace(scale);
        // add (not add_) returns a fresh tensor, so the result never aliases W0 even when W0 is already in the compute dtype.
        return weight.to(compute).Plus(delta).to(weight.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// DoRA merged: <c>g ⊙ (W0 + s·B·A)</c> row by row (<paramref name="doraScale"/> g [out]), as a NEW tensor in W0's dtype
    /// (PEFT <c>DoraLinearVariant.merge_safe</c>: <c>dora_factor · (orig_weight + delta_weight)</c>; the bias is unchanged).
    /// Formed in at least float32 and rounded once, like <see cref="Merge"/>.
    /// </summary>
    public static Tensor MergeDora(Tensor weight, Tensor a, Tensor b, double scale, Tensor doraScale)
    {
        ArgumentNullException.ThrowIfNull(doraScale);
        if (doraScale.ndim != 1 || doraScale.shape[0] != weight.shape[0])
        {
            throw new ArgumentException($"The DoRA scale must be [{weight.shape[0]}], got [{string.Join(", ", doraScale.shape)}].");
        }

        var compute = weight.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        using var scope = torch.NewDisposeScope();
        var merged = Merge(weight.to(compute), a, b, scale);
        return merged.mul_(doraScale.to(compute, weight.device).unsqueeze(1)).to(weight.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Picks BGMV (gathered), SGMV (grouped) or the stacked path for one module call.
    /// </summary>
    /// <remarks>
    /// <para>
    /// CPU, measured (docs/benchmarks/lora-kernel.md; AMD EPYC, 2 cores, fp32, 4096² and 1024², rows 1-64, 1-64 distinct adapters,
    /// ranks 8/16/64). Gathered never wins: it copies every row's A and B (n·r·(in+out) elements: read, write, read again in bmm).
    /// Grouped reads each distinct adapter once at its own rank but pays a few small TorchSharp calls (~10-25 µs) per slot, which
    /// adds up in decode with many adapters: 64 rows on 64 rank-16 adapters, 1024², cost 3.10 ms grouped against 2.29 ms stacked
    /// (base 1.48 ms); where this rule picks stacked, stacked/grouped was 0.71-1.08, median 0.92. The stacked path does
    /// the per-slot work as two batched matmuls over the pool's own A and B (no copy when the batch's slots are nearly contiguous, as they
    /// are when most of the table's slots are in use) and leaves slots with many rows to the grouped loop; with one to three adapters
    /// there is little to batch and both were within noise, so those stay grouped.
    /// </para>
    /// <para>
    /// CUDA, NOT measured here (no GPU on the benchmark machine): the grouped loop issues about four kernel launches per distinct
    /// slot per module, which is what Punica's single-launch BGMV kernel avoids in decode. Until the benchmark is run on a GPU
    /// (<c>--device cuda</c>), decode-shaped calls there (several adapters, under two rows per adapter) take the gathered path;
    /// the stacked path is the first candidate to measure against it.
    /// </para>
    /// </remarks>
    internal static LoraKernelPath ChoosePath(in LoraPlan plan, DeviceType device) =>
        device == DeviceType.CUDA
            ? plan.ActiveSlots > 1 && plan.ActiveRows < 2 * plan.ActiveSlots ? LoraKernelPath.Gathered : LoraKernelPath.Grouped
            : plan.ActiveSlots >= StackedMinSlots ? LoraKernelPath.Stacked : LoraKernelPath.Grouped;

    /// <summary>Fewest active adapters for which the CPU takes the stacked path (see <see cref="ChoosePath"/>).</summary>
    internal const int StackedMinSlots = 4;

    /// <summary>Runs one path regardless of <see cref="ChoosePath"/>; the benchmark and the tests use this to compare them.</summary>
    internal static void AddDelta(Tensor y, Tensor x, LoraSlotPool pool, LoraBatch batch, LoraKernelPath path)
    {
        var active = new bool[batch.DistinctSlots.Count];
        var plan = Plan(y, x, pool, batch, active);
        if (plan.ActiveRows > 0)
        {
            AddDelta(y, x, pool, batch, active, plan, path);
        }
    }

    private static void AddDelta(
        Tensor y, Tensor x, LoraSlotPool pool, LoraBatch batch, bool[] active, in LoraPlan plan, LoraKernelPath path)
    {
        // Temporaries die here rather than in the step's scope: a step runs this for every adapted module of every layer.
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        switch (path)
        {
            case LoraKernelPath.Gathered:
                AddGathered(y, x, pool, batch, active, plan.MaxRank);
                break;
            case LoraKernelPath.Stacked:
                AddStacked(y, x, pool, batch, active);
                break;
            default:
                AddGrouped(y, x, pool, batch, active);
                break;
        }
    }

    /// <summary>
    /// Punica BGMV: for the n active rows, gather A[slot, :r] and B[slot, :, :r] per row (r = the largest active rank; smaller
    /// ranks are zero-padded in the pool, so exact) and run two batched matrix-vector products.
    /// </summary>
    private static void AddGathered(Tensor y, Tensor x, LoraSlotPool pool, LoraBatch batch, bool[] active, int rank)
    {
        var index = batch.GatherIndex(active);
        var rows = index.Rows is null ? x : x.index_select(0, index.Rows);
        var down = pool.A.narrow(1, 0, rank).index_select(0, index.RowSlots);              // [n, r, in]
        var shrunk = torch.bmm(down, rows.unsqueeze(2));                                  // [n, r, 1]
        var up = pool.B.narrow(2, 0, rank).index_select(0, index.RowSlots);                // [n, out, r]
        var delta = torch.bmm(up, shrunk).squeeze(2);                                     // [n, out]
        if (index.Rows is null)
        {
            y.PlusInPlace(delta);
        }
        else
        {
            y.index_add_(0, index.Rows, delta, TensorMath.One);
        }
    }

    /// <summary>
    /// Punica SGMV / S-LoRA: for each active slot, its rows times Aᵀ then Bᵀ at the slot's own rank. Contiguous segments use
    /// views of x and y and a fused <c>addmm_</c>; scattered rows are gathered and index-added.
    /// </summary>
    private static void AddGrouped(Tensor y, Tensor x, LoraSlotPool pool, LoraBatch batch, bool[] active)
    {
        for (var i = 0; i < active.Length; i++)
        {
            if (active[i])
            {
                AddGroup(y, x, pool, batch, batch.Group(i));
            }
        }
    }

    private static void AddGroup(Tensor y, Tensor x, LoraSlotPool pool, LoraBatch batch, LoraSlotGroup group)
    {
        var aTransposed = pool.ATransposed(group.Slot);
        var bTransposed = pool.BTransposed(group.Slot);
        if (group.Count == batch.Rows)
        {
            // One adapter for the whole batch (a single request's prefill, or one popular adapter): no slicing at all.
            y.addmm_(x.mm(aTransposed), bTransposed);
        }
        else if (group.IsContiguous)
        {
            var segment = x.narrow(0, group.Start, group.Count);
            y.narrow(0, group.Start, group.Count).addmm_(segment.mm(aTransposed), bTransposed);
        }
        else
        {
            var segment = x.index_select(0, group.RowIndex);
            y.index_add_(0, group.RowIndex, segment.mm(aTransposed).mm(bTransposed), TensorMath.One);
        }
    }

    /// <summary>
    /// The slots with few rows (decode: one per request) as one padded stack, two <c>bmm</c> against the pool's A and B for all
    /// of them, at the largest of their ranks (smaller ranks are zero-padded in the pool, so exact); the rest through the
    /// grouped loop. A slot's padding rows are zeros and their outputs are never read back, so the stack adds nothing to any
    /// other row.
    /// </summary>
    private static void AddStacked(Tensor y, Tensor x, LoraSlotPool pool, LoraBatch batch, bool[] active)
    {
        var stack = batch.StackIndex(active);
        foreach (var i in stack.GroupedGroups)
        {
            AddGroup(y, x, pool, batch, batch.Group(i));
        }

        if (stack.Count == 0)
        {
            return;
        }

        var rank = 0;
        foreach (var i in stack.StackedGroups)
        {
            rank = Math.Max(rank, pool.RankOf(batch.Group(i).Slot));
        }

        var rows = stack.Rows is null ? x : x.index_select(0, stack.Rows);
        var stacked = stack.Positions is null
            ? rows
            : torch.zeros([stack.StackSlots * stack.RowsPerSlot, pool.InFeatures], x.dtype, x.device).index_copy_(0, stack.Positions, rows);
        var down = stack.SlotIndex is null
            ? pool.A.narrow(0, stack.FirstSlot, stack.StackSlots).narrow(1, 0, rank)
            : pool.A.narrow(1, 0, rank).index_select(0, stack.SlotIndex);                         // [slots, r, in]
        var up = stack.SlotIndex is null
            ? pool.B.narrow(0, stack.FirstSlot, stack.StackSlots).narrow(2, 0, rank)
            : pool.B.narrow(2, 0, rank).index_select(0, stack.SlotIndex);                         // [slots, out, r]
        var shrunk = torch.bmm(stacked.view(stack.StackSlots, stack.RowsPerSlot, -1), down.transpose(1, 2));
        var delta = torch.bmm(shrunk, up.transpose(1, 2)).view(-1, pool.OutFeatures);          // [slots · rows per slot, out]
        if (stack.Positions is not null)
        {
            delta = delta.index_select(0, stack.Positions);
        }

        if (stack.Rows is null)
        {
            y.PlusInPlace(delta);
        }
        else
        {
            y.index_add_(0, stack.Rows, delta, TensorMath.One);
        }
    }

    private static LoraPlan Plan(Tensor y, Tensor x, LoraSlotPool pool, LoraBatch batch, bool[] active)
    {
        ArgumentNullException.ThrowIfNull(y);
        ArgumentNullException.ThrowIfNull(x);
        // Each shape read is a native call (~0.8 µs here); this runs once per adapted module per step, so read each once.
        var xShape = x.shape;
        var yShape = y.shape;
        if (xShape.Length != 2 || yShape.Length != 2 || xShape[0] != batch.Rows || yShape[0] != batch.Rows
            || xShape[1] != pool.InFeatures || yShape[1] != pool.OutFeatures)
        {
            throw new ArgumentException(
                $"LoRA delta needs x [{batch.Rows}, {pool.InFeatures}] and y [{batch.Rows}, {pool.OutFeatures}]; got x "
                + $"[{string.Join(", ", xShape)}] and y [{string.Join(", ", yShape)}].");
        }

        if (x.dtype != pool.DType || y.dtype != pool.DType)
        {
            // No per-forward conversion of adapter weights (a dtype copy per call costs as much as the matmul): the pool is built in the model dtype.
            throw new ArgumentException($"x is {x.dtype} and y {y.dtype}, but the slot pool holds {pool.DType}.");
        }

        if (!pool.IsOn(x.device_type, x.device_index) || !pool.IsOn(y.device_type, y.device_index)
            || !pool.IsOn(batch.Device.type, batch.Device.index))
        {
            throw new ArgumentException($"x, y, the batch and the slot pool must share one device (pool: {pool.Device}).");
        }

        if (batch.MaxSlot >= pool.Slots)
        {
            throw new ArgumentException($"The batch uses slot {batch.MaxSlot}, but the pool has slots 0..{pool.Slots - 1}.");
        }

        int activeSlots = 0, activeRows = 0, maxRank = 0;
        for (var i = 0; i < active.Length; i++)
        {
            var group = batch.Group(i);
            var rank = pool.RankOf(group.Slot);
            active[i] = rank > 0;
            if (rank > 0)
            {
                activeSlots++;
                activeRows += group.Count;
                maxRank = Math.Max(maxRank, rank);
            }
        }

        return new LoraPlan(activeSlots, activeRows, maxRank);
    }
}
