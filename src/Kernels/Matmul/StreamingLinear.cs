using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Matmul;

/// <summary>
/// y = x·Wᵀ + bias for a few rows of x (decode: one row per running sequence), float32 on the CPU, computed by streaming W
/// once: each weight row is read from memory once and dotted with every row of x, with the weight's rows split into one
/// contiguous range per torch thread. On AVX-512 the dots run in register tiles of up to 4 weight rows × 8 rows of x
/// (<see cref="StreamingTile"/>); above 8 rows, blocks of weight rows small enough to stay in L2 meet each group of 8 rows
/// in turn, so W is still read from memory once.
/// </summary>
/// <remarks>
/// Why not libtorch: a decode step with few rows is bound by reading the weights (0.98 GB per token for the large benchmark
/// model), and on this machine (AMD EPYC, 2 cores) libtorch's MKL sgemv/sgemm for one to eight rows read them at well under
/// the memory bandwidth llama.cpp reaches on the same weights (docs/benchmarks.md, "Where a decode step goes"). A row's
/// result depends only on that row and W (each dot product is summed in the same order whatever the row count, the tile
/// and the thread split), so a sequence's logits do not change with the number of rows of the call while it stays at or
/// below <see cref="MaxRows"/>. Machines without AVX-512 take a plain loop (one dot at a time, four 8-wide accumulators),
/// which keeps the same invariant with its own order.
/// </remarks>
public static class StreamingLinear
{
    /// <summary>
    /// Most rows of x taken here. At 8 to 64 rows the tiles' FMA work, not the weight reads, bounds a call, and libtorch's MKL
    /// GEMM took 1.15-9× as long at every projection shape of the large model (<c>profile stream</c>, docs/benchmarks.md,
    /// issue 29); above 64 rows (prefill of long prompts) libtorch keeps the call.
    /// </summary>
    public const int MaxRows = 64;

    /// <summary>Rows of x in one register tile.</summary>
    private const int TileRows = 8;

    /// <summary>
    /// Weight rows per register tile, by the number of rows of x in the tile (index 1..8): with 8 rows, 3 weight rows make 24
    /// 16-wide accumulators, the most that leave registers for the loads among AVX-512's 32; with fewer rows, 4 weight rows
    /// keep more loads of W in flight. Changed only by the benchmark's --tiles, to tune another machine.
    /// </summary>
    internal static readonly int[] TileWeights = [0, 4, 4, 4, 4, 3, 3, 3, 3];

    /// <summary>Whether <see cref="Forward"/> takes this call: float32 CPU, x <c>[rows ≤ MaxRows, in]</c>, W <c>[out, in]</c> contiguous.</summary>
    public static bool Applies(Tensor x, Tensor weight, Tensor? bias) => AppliesUpTo(x, weight, bias, MaxRows);

    /// <summary>
    /// Batch-invariant mode's linear (<see cref="BatchInvariance.Linear"/>): <see cref="TryForward"/> for any number of rows,
    /// since a row's bits do not depend on how many rows share the call; null where the kernel does not apply.
    /// </summary>
    internal static Tensor? TryForwardAnyRows(Tensor x, Tensor weight, Tensor? bias) =>
        AppliesUpTo(x, weight, bias, int.MaxValue) ? ForwardAnyRows(x, weight, bias) : null;

    private static bool AppliesUpTo(Tensor x, Tensor weight, Tensor? bias, int maxRows)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        // Each shape, dtype and device read is a native call; this runs for every projection of every step.
        var xShape = x.shape;
        var weightShape = weight.shape;
        return xShape.Length == 2 && xShape[0] > 0 && xShape[0] <= maxRows && weightShape.Length == 2 && weightShape[1] == xShape[1]
               && x.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32
               && x.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU && weight.is_contiguous()
               // One span per tensor: a weight beyond 2 GB (a 150k-vocabulary head at 3,584 features) stays with libtorch.
               && weightShape[0] * weightShape[1] * sizeof(float) <= int.MaxValue
               && xShape[0] * Math.Max(weightShape[0], weightShape[1]) * sizeof(float) <= int.MaxValue
               && (bias is null || (bias.dtype == ScalarType.Float32 && bias.device_type == DeviceType.CPU && bias.is_contiguous()));
    }

    /// <summary>x <c>[rows, in]</c> · W<c>[out, in]</c>ᵀ + bias as a new <c>[rows, out]</c> tensor, or null where it does not <see cref="Applies"/>.</summary>
    public static Tensor? TryForward(Tensor x, Tensor weight, Tensor? bias) =>
        Applies(x, weight, bias) ? ForwardAnyRows(x, weight, bias) : null;

    /// <summary>x <c>[rows, in]</c> · W<c>[out, in]</c>ᵀ + bias as a new <c>[rows, out]</c> tensor. Call only where <see cref="Applies"/>.</summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias) =>
        TryForward(x, weight, bias) ?? throw new ArgumentException(
            $"StreamingLinear takes float32 CPU x [1..{MaxRows}, in] and contiguous W [out, in]; got x {x.dtype} "
            + $"[{string.Join(", ", x.shape)}] and W {weight.dtype} [{string.Join(", ", weight.shape)}].");

    /// <summary>
    /// The tests and the benchmark: <see cref="Forward"/> for any number of rows (above <see cref="MaxRows"/> too), with the
    /// weight rows split into <paramref name="parts"/> threads (default: as <see cref="Forward"/>), and with
    /// <paramref name="loop"/> the path for machines without AVX-512.
    /// </summary>
    internal static Tensor ForwardAnyRows(Tensor x, Tensor weight, Tensor? bias, int? parts = null, bool loop = false) =>
        Compute(x, weight, bias, parts ?? DefaultParts(weight), loop || !Vector512.IsHardwareAccelerated);

    /// <summary>Threads as libtorch's (Engine:TorchThreads); a part of fewer than 64 weight rows is not worth a thread.</summary>
    private static int DefaultParts(Tensor weight) => (int)Math.Max(1, Math.Min(get_num_threads(), weight.shape[0] / 64));

    private static Tensor Compute(Tensor x, Tensor weight, Tensor? bias, int parts, bool loop)
    {
        var rows = (int)x.shape[0];
        var outFeatures = (int)weight.shape[0];
        var inFeatures = (int)weight.shape[1];
        var input = x.is_contiguous() ? x : x.contiguous();
        var y = empty([rows, outFeatures], ScalarType.Float32, x.device);
        if (parts == 1)
        {
            Rows(input, weight, bias, y, rows, inFeatures, outFeatures, 0, outFeatures, loop);
        }
        else
        {
            var perPart = (outFeatures + parts - 1) / parts;
            void Part(int part)
            {
                var start = part * perPart;
                Rows(input, weight, bias, y, rows, inFeatures, outFeatures, start, Math.Min(outFeatures, start + perPart) - start, loop);
            }

            StreamingWorkers.Run(parts, Part);
        }

        if (!ReferenceEquals(input, x))
        {
            input.Dispose();
        }

        return y;
    }

    /// <summary>Weight rows [start, start + count) against every row of x (one thread's part).</summary>
    private static void Rows(Tensor x, Tensor weight, Tensor? bias, Tensor y, int rows, int inFeatures, int outFeatures, int start, int count, bool loop)
    {
        if (count <= 0)
        {
            return;
        }

        // Spans over the tensors' own storage (no copy); each thread takes its own, since a span cannot cross into a lambda.
        ReadOnlySpan<float> w = MemoryMarshal.Cast<byte, float>(weight.bytes);
        ReadOnlySpan<float> input = MemoryMarshal.Cast<byte, float>(x.bytes);
        ReadOnlySpan<float> b = bias is null ? default : MemoryMarshal.Cast<byte, float>(bias.bytes);
        var output = MemoryMarshal.Cast<byte, float>(y.bytes);
        if (!loop)
        {
            ref var weightStart = ref MemoryMarshal.GetReference(w);
            ref var inputStart = ref MemoryMarshal.GetReference(input);
            ref var outputStart = ref MemoryMarshal.GetReference(output);
            ref var biasStart = ref MemoryMarshal.GetReference(b);
            if (rows <= TileRows)
            {
                Dispatch(rows, ref weightStart, ref inputStart, ref outputStart, ref biasStart, bias is not null, inFeatures, outFeatures, start, start + count);
                return;
            }

            // More rows than one tile holds: each block of weight rows (sized to stay in L2) against every group of rows.
            var block = Math.Max(4, (256 * 1024) / (inFeatures * sizeof(float)));
            for (var blockStart = start; blockStart < start + count; blockStart += block)
            {
                var blockEnd = Math.Min(start + count, blockStart + block);
                for (var first = 0; first < rows; first += TileRows)
                {
                    Dispatch(Math.Min(TileRows, rows - first), ref weightStart, ref Unsafe.Add(ref inputStart, first * inFeatures),
                        ref Unsafe.Add(ref outputStart, first * outFeatures), ref biasStart, bias is not null, inFeatures, outFeatures, blockStart, blockEnd);
                }
            }

            return;
        }

        for (var o = start; o < start + count; o++)
        {
            var weightRow = w.Slice(o * inFeatures, inFeatures);
            var shift = bias is null ? 0f : b[o];
            for (var row = 0; row < rows; row++)
            {
                output[row * outFeatures + o] = Dot(weightRow, input.Slice(row * inFeatures, inFeatures)) + shift;
            }
        }
    }

    /// <summary>The tile loop specialised for <paramref name="rows"/> (1..8) rows of x: one compiled loop per shape.</summary>
    private static void Dispatch(int rows, ref float weight, ref float x, ref float y, ref float bias, bool hasBias, int inFeatures, int outFeatures, int start, int end)
    {
        var tile = TileWeights[rows];
        switch (rows)
        {
            case 1: Tiles<One>(tile, ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
            case 2: Tiles<Two>(tile, ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
            case 3: Tiles<Three>(tile, ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
            case 4: Tiles<Four>(tile, ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
            case 5: Tiles<Five>(tile, ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
            case 6: Tiles<Six>(tile, ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
            case 7: Tiles<Seven>(tile, ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
            default: Tiles<Eight>(tile, ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
        }
    }

    private static void Tiles<TRows>(int weightsPerTile, ref float weight, ref float x, ref float y, ref float bias, bool hasBias, int inFeatures, int outFeatures, int start, int end)
        where TRows : struct, ITileCount
    {
        switch (weightsPerTile)
        {
            case 1: StreamingTile.Rows<TRows, One>(ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
            case 2: StreamingTile.Rows<TRows, Two>(ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
            case 3: StreamingTile.Rows<TRows, Three>(ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
            default: StreamingTile.Rows<TRows, Four>(ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, start, end); break;
        }
    }

    /// <summary>Σ a[i]·b[i] with four 8-wide fused multiply-add accumulators (enough loads in flight to stream W).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        ref var left = ref MemoryMarshal.GetReference(a);
        ref var right = ref MemoryMarshal.GetReference(b);
        var length = a.Length;
        var i = 0;
        float sum;
        if (Vector256.IsHardwareAccelerated && length >= 32)
        {
            var s0 = Vector256<float>.Zero;
            var s1 = Vector256<float>.Zero;
            var s2 = Vector256<float>.Zero;
            var s3 = Vector256<float>.Zero;
            for (; i <= length - 32; i += 32)
            {
                s0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref left, (nuint)i), Vector256.LoadUnsafe(ref right, (nuint)i), s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref left, (nuint)(i + 8)), Vector256.LoadUnsafe(ref right, (nuint)(i + 8)), s1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref left, (nuint)(i + 16)), Vector256.LoadUnsafe(ref right, (nuint)(i + 16)), s2);
                s3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref left, (nuint)(i + 24)), Vector256.LoadUnsafe(ref right, (nuint)(i + 24)), s3);
            }

            for (; i <= length - 8; i += 8)
            {
                s0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref left, (nuint)i), Vector256.LoadUnsafe(ref right, (nuint)i), s0);
            }

            sum = Vector256.Sum(s0 + s1 + (s2 + s3));
        }
        else
        {
            sum = 0f;
        }

        for (; i < length; i++)
        {
            sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref left, i), Unsafe.Add(ref right, i), sum);
        }

        return sum;
    }
}
