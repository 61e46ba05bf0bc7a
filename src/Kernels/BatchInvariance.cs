using static TorchSharp.torch;

namespace InferServer.Kernels;

/// <summary>
/// Batch-invariant mode (Engine:BatchInvariant): while it is on for the calling thread, the kernels compute every row the same
/// way whatever else the batch holds, so a request's logits are bit-identical alone or batched (Thinking Machines, "Defeating
/// Nondeterminism in LLM Inference", 2025; vLLM's batch-invariant mode; SGLang's deterministic inference).
/// </summary>
/// <remarks>
/// Measured on this CPU (libtorch 2.10 CPU, TorchSharp 0.107, fp32, 1 and 2 threads; docs/architecture.md, "Batch-invariant
/// mode"): a row of <c>linear</c> comes out in one of three roundings depending on the call's row count and the row's place in
/// it: one row alone (matrix-vector), two or three rows, and the remainder rows of 5-9; but every row of a call whose row
/// count is a multiple of <see cref="RowQuantum"/> gets the same rounding whatever the count (4 to 1,024), the row's place,
/// the other rows and the input's offset. So the mode pads each product's rows up to that multiple: at most three wasted rows,
/// one call. Norms, softmax, log-softmax and the elementwise ops were row-invariant as they are. The flag is per thread
/// because one engine thread owns a model and runs its steps; other engines in the process are unaffected.
/// </remarks>
public static class BatchInvariance
{
    /// <summary>Row counts that are a multiple of this take one code path in the CPU GEMM for every row (see remarks).</summary>
    public const int RowQuantum = 4;

    [ThreadStatic]
    private static bool Enabled;

    /// <summary>Whether the mode is on for the calling thread.</summary>
    public static bool IsOn => Enabled;

    /// <summary>Turns the mode on (or leaves it off) for the calling thread until the returned scope is disposed.</summary>
    public static Scope Enter(bool on)
    {
        var previous = Enabled;
        Enabled = on;
        return new Scope(previous);
    }

    /// <summary>
    /// x·Wᵀ + bias, each row rounded the same whatever the others. float32 on the CPU: <see cref="Matmul.StreamingLinear"/>,
    /// which sums every output element in one fixed order for any number of rows (invariant by construction, and 1.7×
    /// libtorch's GEMM at 64 rows here); elsewhere x's rows padded to a multiple of <see cref="RowQuantum"/> for libtorch.
    /// x: <c>[..., in]</c>.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        var shape = x.shape;
        var flat = shape.Length == 2 ? x : x.reshape(-1, shape[^1]);
        var rows = flat.shape[0];
        var y = Matmul.StreamingLinear.TryForwardAnyRows(flat, weight, bias) ?? Trim(nn.functional.linear(PadRows(flat), weight, bias), rows);
        if (shape.Length == 2)
        {
            return y;
        }

        var outShape = shape.ToArray();
        outShape[^1] = weight.shape[0];
        return y.view(outShape);
    }

    /// <summary>x·a·b for x <c>[rows, in]</c> (a low-rank product), rows padded once to a multiple of <see cref="RowQuantum"/>.</summary>
    public static Tensor MatMul(Tensor x, Tensor a, Tensor? b = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(a);
        var rows = x.shape[0];
        var product = PadRows(x).mm(a);
        return Trim(b is null ? product : product.mm(b), rows);
    }

    /// <summary>x with zero rows appended up to the next multiple of <see cref="RowQuantum"/> (x itself when it is one).</summary>
    private static Tensor PadRows(Tensor x)
    {
        var rows = x.shape[0];
        var padding = (RowQuantum - rows % RowQuantum) % RowQuantum;
        return padding == 0 ? x : cat([x, zeros([padding, x.shape[1]], x.dtype, x.device)], 0);
    }

    private static Tensor Trim(Tensor y, long rows) => y.shape[0] == rows ? y : y.narrow(0, 0, rows);

    /// <summary>Restores the calling thread's previous setting.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly bool previous;

        internal Scope(bool previous) => this.previous = previous;

        /// <inheritdoc />
        public void Dispose() => Enabled = previous;
    }
}
