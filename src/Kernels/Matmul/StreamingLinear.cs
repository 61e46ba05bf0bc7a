using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Matmul;

/// <summary>
/// y = x·Wᵀ + bias for a few rows of x (decode: one row per running sequence), float32 on the CPU, computed by streaming W
/// once: each weight row is read from memory once and dotted with every row of x while it is in the L1 cache, with the
/// weight's rows split into one contiguous range per torch thread.
/// </summary>
/// <remarks>
/// Why not libtorch: a decode step with few rows is bound by reading the weights (0.98 GB per token for the large benchmark
/// model), and on this machine (AMD EPYC, 2 cores) libtorch's MKL sgemv/sgemm for one to eight rows read them at well under
/// the memory bandwidth llama.cpp reaches on the same weights (docs/benchmarks.md, "Where a decode step goes"). A row's
/// result depends only on that row and W (each dot product is summed in the same order whatever the row count), so a
/// sequence's logits do not change with the number of rows of the call while it stays at or below <see cref="MaxRows"/>.
/// </remarks>
public static class StreamingLinear
{
    /// <summary>Most rows of x taken here; above it libtorch's GEMM reuses each weight load across enough rows to win.</summary>
    public const int MaxRows = 8;

    /// <summary>Whether <see cref="Forward"/> takes this call: float32 CPU, x <c>[rows ≤ MaxRows, in]</c>, W <c>[out, in]</c> contiguous.</summary>
    public static bool Applies(Tensor x, Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        // Each shape, dtype and device read is a native call; this runs for every projection of every step.
        var xShape = x.shape;
        var weightShape = weight.shape;
        return xShape.Length == 2 && xShape[0] is > 0 and <= MaxRows && weightShape.Length == 2 && weightShape[1] == xShape[1]
               && x.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32
               && x.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU && weight.is_contiguous()
               // One span per tensor: a weight beyond 2 GB (a 150k-vocabulary head at 3,584 features) stays with libtorch.
               && weightShape[0] * weightShape[1] * sizeof(float) <= int.MaxValue
               && (bias is null || (bias.dtype == ScalarType.Float32 && bias.device_type == DeviceType.CPU && bias.is_contiguous()));
    }

    /// <summary>x <c>[rows, in]</c> · W<c>[out, in]</c>ᵀ + bias as a new <c>[rows, out]</c> tensor, or null where it does not <see cref="Applies"/>.</summary>
    public static Tensor? TryForward(Tensor x, Tensor weight, Tensor? bias) =>
        Applies(x, weight, bias) ? Compute(x, weight, bias) : null;

    /// <summary>x <c>[rows, in]</c> · W<c>[out, in]</c>ᵀ + bias as a new <c>[rows, out]</c> tensor. Call only where <see cref="Applies"/>.</summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias) =>
        TryForward(x, weight, bias) ?? throw new ArgumentException(
            $"StreamingLinear takes float32 CPU x [1..{MaxRows}, in] and contiguous W [out, in]; got x {x.dtype} "
            + $"[{string.Join(", ", x.shape)}] and W {weight.dtype} [{string.Join(", ", weight.shape)}].");

    private static Tensor Compute(Tensor x, Tensor weight, Tensor? bias)
    {
        var rows = (int)x.shape[0];
        var outFeatures = (int)weight.shape[0];
        var inFeatures = (int)weight.shape[1];
        var input = x.is_contiguous() ? x : x.contiguous();
        var y = empty([rows, outFeatures], ScalarType.Float32, x.device);
        // Threads as libtorch's (Engine:TorchThreads); a part of fewer than 64 weight rows is not worth a thread.
        var parts = Math.Max(1, Math.Min(get_num_threads(), outFeatures / 64));
        if (parts == 1)
        {
            Rows(input, weight, bias, y, rows, inFeatures, outFeatures, 0, outFeatures);
        }
        else
        {
            var perPart = (outFeatures + parts - 1) / parts;
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
            {
                var start = part * perPart;
                Rows(input, weight, bias, y, rows, inFeatures, outFeatures, start, Math.Min(outFeatures, start + perPart) - start);
            });
        }

        if (!ReferenceEquals(input, x))
        {
            input.Dispose();
        }

        return y;
    }

    /// <summary>Weight rows [start, start + count) against every row of x.</summary>
    private static void Rows(Tensor x, Tensor weight, Tensor? bias, Tensor y, int rows, int inFeatures, int outFeatures, int start, int count)
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
