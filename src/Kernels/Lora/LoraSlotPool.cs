using InferServer.Kernels.Memory;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Lora;

/// <summary>
/// Device tier for ONE adapted linear module: stacked per-slot LoRA weights, slot 0 = "no adapter" (all zeros).
/// </summary>
/// <remarks>
/// <para>
/// Layout follows vLLM's <c>BaseLinearLayerWithLoRA</c> (<c>lora_a_stacked</c> / <c>lora_b_stacked</c>) and S-LoRA's unified
/// pool: <see cref="A"/> is <c>[slots, maxRank, in]</c>, <see cref="B"/> is <c>[slots, out, maxRank]</c>. An adapter of rank
/// r &lt; maxRank sits in the top-left corner and the rest stays zero, so x·Aᵀ·Bᵀ over the padded rank equals the rank-r product
/// exactly (the padded terms are exact zeros, and adding +0 never changes a float).
/// </para>
/// <para>
/// The scale s (PEFT: <c>lora_alpha / r</c>, rsLoRA: <c>lora_alpha / sqrt(r)</c>) is folded into B at <see cref="Write"/>, as
/// vLLM's <c>LoRALayerWeights.optimize</c> does. Why: the kernels then need no per-row scale gather and no extra multiply per
/// row per module on every step, and one scale rounding at load replaces one per step. The cost is that B in the pool is no
/// longer the checkpoint's B; nothing downstream needs that one (the merge path takes A, B, s from the adapter itself).
/// </para>
/// <para>
/// DoRA (Liu et al. 2024, arXiv:2402.09353; PEFT <c>DoraLinearLayer</c>) computes
/// <c>y = bias + g ⊙ (x·W0ᵀ + s·(x·Aᵀ)·Bᵀ)</c> with the per-output-row factor <c>g = m / ‖W0 + s·B·A‖</c> (norm over the input
/// dimension), which depends only on the adapter and W0, so the adapter brings it computed. A DoRA slot stores <c>g·s·B</c> as its
/// B (so the low-rank kernels run unchanged) and <c>g − 1</c> in <see cref="RowScaleMinusOne"/>, and the kernel adds
/// <c>(g − 1) ⊙ (y − bias)</c> to that slot's rows, which is exactly PEFT's
/// <c>result + (mag_norm_scale − 1)·(base_result − bias) + mag_norm_scale·lora_result·scaling</c>. Plain LoRA slots keep zeros
/// there and cost nothing.
/// </para>
/// <para>
/// The pool's tensors are long-lived: they are detached from any dispose scope that is current when the pool is built (see
/// docs/architecture.md, "One engine thread owns the model") and are disposed with the pool. Per-slot views (the rank-r corners, transposed for the
/// matmuls) are cached here at <see cref="Write"/> so the grouped kernel does not rebuild them for every module call.
/// </para>
/// </remarks>
public sealed class LoraSlotPool : IDisposable
{
    private readonly int[] ranks;
    private readonly bool[] dora;
    // Per slot: Aᵀ corner [in, r] and Bᵀ corner [r, out], views into A and B (null when the slot is empty).
    private readonly Tensor?[] aTransposed;
    private readonly Tensor?[] bTransposed;
    // Cached because the kernels check them on every call and each read of a tensor property is a native call.
    private readonly DeviceType deviceType;
    private readonly long deviceIndex;
    private bool disposed;

    public LoraSlotPool(int slots, int maxRank, long inFeatures, long outFeatures, ScalarType dtype, Device device)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 2); // slot 0 is reserved for "no adapter"
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRank, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1L);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1L);
        ArgumentNullException.ThrowIfNull(device);
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64))
        {
            throw new ArgumentException($"LoRA slot pools hold floating-point weights, not {dtype}.", nameof(dtype));
        }

        Slots = slots;
        MaxRank = maxRank;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        A = HugePages.Zeros([slots, maxRank, inFeatures], dtype, device).DetachFromDisposeScope();
        B = HugePages.Zeros([slots, outFeatures, maxRank], dtype, device).DetachFromDisposeScope();
        RowScaleMinusOne = torch.zeros([slots, outFeatures], dtype: dtype, device: device).DetachFromDisposeScope();
        DType = dtype;
        deviceType = A.device_type;
        deviceIndex = A.device_index;
        ranks = new int[slots];
        dora = new bool[slots];
        aTransposed = new Tensor?[slots];
        bTransposed = new Tensor?[slots];
        BytesPerSlot = SlotBytes(maxRank, inFeatures, outFeatures, dtype);
    }

    /// <summary>
    /// Bytes one slot of a pool of this shape occupies: A <c>[maxRank, in]</c>, B <c>[out, maxRank]</c> and the DoRA row
    /// factor <c>[out]</c>, at <paramref name="dtype"/>. For sizing the device tier before any pool exists.
    /// </summary>
    public static long SlotBytes(int maxRank, long inFeatures, long outFeatures, ScalarType dtype) =>
        (maxRank * inFeatures + outFeatures * maxRank + outFeatures) * dtype switch
        {
            ScalarType.Float64 => 8,
            ScalarType.Float32 => 4,
            ScalarType.BFloat16 or ScalarType.Float16 => 2,
            _ => throw new ArgumentException($"LoRA slot pools hold floating-point weights, not {dtype}.", nameof(dtype)),
        };

    public int Slots { get; }

    public int MaxRank { get; }

    public long InFeatures { get; }

    public long OutFeatures { get; }

    /// <summary>Stacked down-projections, <c>[slots, maxRank, in]</c>.</summary>
    public Tensor A { get; }

    /// <summary>Stacked up-projections with the scale folded in, <c>[slots, out, maxRank]</c>.</summary>
    public Tensor B { get; }

    /// <summary>DoRA's per-output-row factor minus one, <c>g − 1</c>, <c>[slots, out]</c>; zeros for plain LoRA and empty slots.</summary>
    public Tensor RowScaleMinusOne { get; }

    public ScalarType DType { get; }

    public Device Device => A.device;

    /// <summary>Bytes one slot occupies on the device (A and B at the padded rank).</summary>
    public long BytesPerSlot { get; }

    /// <summary>The real rank in <paramref name="slot"/>; 0 when the slot is empty or this module is not adapted by that slot's adapter.</summary>
    public int RankOf(int slot)
    {
        CheckSlot(slot, allowBase: true);
        return ranks[slot];
    }

    /// <summary>Whether <paramref name="slot"/> holds a DoRA adapter for this module.</summary>
    public bool IsDora(int slot)
    {
        CheckSlot(slot, allowBase: true);
        return dora[slot];
    }

    /// <summary>
    /// Zeroes <paramref name="slot"/>, then copies <paramref name="a"/> <c>[r, in]</c> into the top-left corner of A and
    /// <c>scale·b</c> (<paramref name="b"/> is <c>[out, r]</c>) into the top-left corner of B, converting dtype and device.
    /// Zeroing first is what keeps a smaller rank written over a larger one free of residue (vLLM <c>set_lora</c>).
    /// </summary>
    /// <param name="slot">The slot, 1..Slots-1.</param>
    /// <param name="a">A, <c>[r, in]</c>.</param>
    /// <param name="b">B, <c>[out, r]</c>.</param>
    /// <param name="scale">The LoRA scale s.</param>
    /// <param name="doraScale">DoRA's <c>g = m / ‖W0 + s·B·A‖</c>, <c>[out]</c>, or null for plain LoRA.</param>
    public void Write(int slot, Tensor a, Tensor b, double scale, Tensor? doraScale = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckSlot(slot, allowBase: false);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.ndim != 2 || b.ndim != 2)
        {
            throw new ArgumentException($"LoRA A must be [r, in] and B [out, r]; got A {Shape(a)} and B {Shape(b)}.");
        }

        var rank = a.shape[0];
        if (rank < 1 || rank > MaxRank || a.shape[1] != InFeatures || b.shape[0] != OutFeatures || b.shape[1] != rank)
        {
            throw new ArgumentException(
                $"LoRA A {Shape(a)} and B {Shape(b)} do not fit a pool of rank <= {MaxRank}, in {InFeatures}, out {OutFeatures}.");
        }

        if (!double.IsFinite(scale))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The LoRA scale must be finite.");
        }

        if (doraScale is not null && (doraScale.ndim != 1 || doraScale.shape[0] != OutFeatures))
        {
            throw new ArgumentException($"The DoRA scale must be [{OutFeatures}], got {Shape(doraScale)}.", nameof(doraScale));
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Clear(slot);
        A[slot].narrow(0, 0, rank).copy_(a);
        // Scale in float64 and round once into the pool dtype, so bf16/fp16 pools see a single rounding of s·b (or g·s·b).
        var scaledB = b.to(ScalarType.Float64).Times(scale);
        if (doraScale is not null)
        {
            var g = doraScale.to(ScalarType.Float64, b.device);
            scaledB = scaledB.mul(g.unsqueeze(1));
            RowScaleMinusOne[slot].copy_(g.Minus(1));
        }

        B[slot].narrow(1, 0, rank).copy_(scaledB);
        ranks[slot] = (int)rank;
        dora[slot] = doraScale is not null;
        aTransposed[slot] = A[slot].narrow(0, 0, rank).t().DetachFromDisposeScope();
        bTransposed[slot] = B[slot].narrow(1, 0, rank).t().DetachFromDisposeScope();
    }

    /// <summary>Returns <paramref name="slot"/> to zeros; <see cref="RankOf"/> becomes 0.</summary>
    public void Clear(int slot)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckSlot(slot, allowBase: false);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        A[slot].zero_();
        B[slot].zero_();
        RowScaleMinusOne[slot].zero_();
        ranks[slot] = 0;
        dora[slot] = false;
        aTransposed[slot]?.Dispose();
        bTransposed[slot]?.Dispose();
        aTransposed[slot] = null;
        bTransposed[slot] = null;
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        for (var slot = 0; slot < Slots; slot++)
        {
            aTransposed[slot]?.Dispose();
            bTransposed[slot]?.Dispose();
        }

        A.Dispose();
        B.Dispose();
        RowScaleMinusOne.Dispose();
    }

    /// <summary>True when the pool lives on that device (Device has no value equality).</summary>
    internal bool IsOn(DeviceType type, long index) => deviceType == type && deviceIndex == index;

    /// <summary>Aᵀ of the slot's real rank, <c>[in, r]</c>: a view, valid until the slot is written or cleared.</summary>
    internal Tensor ATransposed(int slot) => aTransposed[slot] ?? throw new InvalidOperationException($"Slot {slot} is empty.");

    /// <summary>Bᵀ (scale folded in) of the slot's real rank, <c>[r, out]</c>: a view, valid until the slot is written or cleared.</summary>
    internal Tensor BTransposed(int slot) => bTransposed[slot] ?? throw new InvalidOperationException($"Slot {slot} is empty.");

    private void CheckSlot(int slot, bool allowBase)
    {
        var lowest = allowBase ? 0 : 1;
        if (slot < lowest || slot >= Slots)
        {
            throw new ArgumentOutOfRangeException(
                nameof(slot), slot, allowBase
                    ? $"Slots are 0..{Slots - 1}."
                    : $"Adapters go in slots 1..{Slots - 1}; slot 0 is the all-zero \"no adapter\" slot.");
        }
    }

    private static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
}
