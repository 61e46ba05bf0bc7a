using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace InferServer.Kernels.Matmul;

/// <summary>How many weight rows or input rows one register tile of <see cref="StreamingTile"/> covers, as a type, so that the
/// JIT compiles one specialised loop per tile shape with the unused accumulators removed.</summary>
internal interface ITileCount
{
    /// <summary>The count.</summary>
    static abstract int Value { get; }
}

#pragma warning disable CA1812 // Used only as generic arguments.
internal readonly struct One : ITileCount { public static int Value => 1; }

internal readonly struct Two : ITileCount { public static int Value => 2; }

internal readonly struct Three : ITileCount { public static int Value => 3; }

internal readonly struct Four : ITileCount { public static int Value => 4; }

internal readonly struct Five : ITileCount { public static int Value => 5; }

internal readonly struct Six : ITileCount { public static int Value => 6; }

internal readonly struct Seven : ITileCount { public static int Value => 7; }

internal readonly struct Eight : ITileCount { public static int Value => 8; }
#pragma warning restore CA1812

/// <summary>
/// The register tile of <see cref="StreamingLinear"/> on AVX-512: up to 4 weight rows against up to 8 rows of x, one 16-wide
/// accumulator per (weight row, x row) pair, so each weight vector loaded from memory feeds every row of x and each x vector
/// loaded from cache feeds every weight row of the tile.
/// </summary>
/// <remarks>
/// Every output element is summed in the same order whatever the tile's shape: one accumulator walking the input in
/// 16-float steps, <see cref="Vector512.Sum{T}(Vector512{T})"/>, then the remaining inputs one by one, then the bias. A
/// row's result therefore does not depend on how many rows share the call, nor on how the weight rows are split among
/// threads or tiles. The 32 accumulators are written out one by one (C# has no array that lives in registers); each
/// <c>if</c> on a count is a constant once the JIT specialises the method, so a tile of 1 × 4 compiles to 4 accumulators.
/// </remarks>
internal static class StreamingTile
{
    private const int Lanes = 16;

    /// <summary>Weight rows [start, end) against the <typeparamref name="TRows"/> rows of x, <typeparamref name="TWeights"/> weight rows per tile.</summary>
    public static void Rows<TRows, TWeights>(ref float weight, ref float x, ref float y, ref float bias, bool hasBias, int inFeatures, int outFeatures, int start, int end)
        where TRows : struct, ITileCount
        where TWeights : struct, ITileCount
    {
        var o = start;
        for (; o <= end - TWeights.Value; o += TWeights.Value)
        {
            Tile<TRows, TWeights>(ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, o);
        }

        for (; o < end; o++)
        {
            Tile<TRows, One>(ref weight, ref x, ref y, ref bias, hasBias, inFeatures, outFeatures, o);
        }
    }

    /// <summary>Weight rows [o, o + <typeparamref name="TWeights"/>) against the <typeparamref name="TRows"/> rows of x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows, TWeights>(ref float weight, ref float x, ref float y, ref float bias, bool hasBias, int inFeatures, int outFeatures, int o)
        where TRows : struct, ITileCount
        where TWeights : struct, ITileCount
    {
        var n = (nuint)inFeatures;
        ref var w0 = ref Unsafe.Add(ref weight, (nint)o * inFeatures);
        ref var w1 = ref Unsafe.Add(ref weight, (nint)(o + 1) * inFeatures);
        ref var w2 = ref Unsafe.Add(ref weight, (nint)(o + 2) * inFeatures);
        ref var w3 = ref Unsafe.Add(ref weight, (nint)(o + 3) * inFeatures);
        ref var x0 = ref x;
        ref var x1 = ref Unsafe.Add(ref x, (nint)1 * inFeatures);
        ref var x2 = ref Unsafe.Add(ref x, (nint)2 * inFeatures);
        ref var x3 = ref Unsafe.Add(ref x, (nint)3 * inFeatures);
        ref var x4 = ref Unsafe.Add(ref x, (nint)4 * inFeatures);
        ref var x5 = ref Unsafe.Add(ref x, (nint)5 * inFeatures);
        ref var x6 = ref Unsafe.Add(ref x, (nint)6 * inFeatures);
        ref var x7 = ref Unsafe.Add(ref x, (nint)7 * inFeatures);
        var a00 = Vector512<float>.Zero;
        var a01 = Vector512<float>.Zero;
        var a02 = Vector512<float>.Zero;
        var a03 = Vector512<float>.Zero;
        var a04 = Vector512<float>.Zero;
        var a05 = Vector512<float>.Zero;
        var a06 = Vector512<float>.Zero;
        var a07 = Vector512<float>.Zero;
        var a10 = Vector512<float>.Zero;
        var a11 = Vector512<float>.Zero;
        var a12 = Vector512<float>.Zero;
        var a13 = Vector512<float>.Zero;
        var a14 = Vector512<float>.Zero;
        var a15 = Vector512<float>.Zero;
        var a16 = Vector512<float>.Zero;
        var a17 = Vector512<float>.Zero;
        var a20 = Vector512<float>.Zero;
        var a21 = Vector512<float>.Zero;
        var a22 = Vector512<float>.Zero;
        var a23 = Vector512<float>.Zero;
        var a24 = Vector512<float>.Zero;
        var a25 = Vector512<float>.Zero;
        var a26 = Vector512<float>.Zero;
        var a27 = Vector512<float>.Zero;
        var a30 = Vector512<float>.Zero;
        var a31 = Vector512<float>.Zero;
        var a32 = Vector512<float>.Zero;
        var a33 = Vector512<float>.Zero;
        var a34 = Vector512<float>.Zero;
        var a35 = Vector512<float>.Zero;
        var a36 = Vector512<float>.Zero;
        var a37 = Vector512<float>.Zero;
        nuint i = 0;
        for (; i + Lanes <= n; i += Lanes)
        {
            var v0 = Vector512.LoadUnsafe(ref w0, i);
            var v1 = TWeights.Value > 1 ? Vector512.LoadUnsafe(ref w1, i) : default;
            var v2 = TWeights.Value > 2 ? Vector512.LoadUnsafe(ref w2, i) : default;
            var v3 = TWeights.Value > 3 ? Vector512.LoadUnsafe(ref w3, i) : default;
            var u0 = Vector512.LoadUnsafe(ref x0, i);
            a00 = Vector512.FusedMultiplyAdd(v0, u0, a00);
            if (TWeights.Value > 1)
            {
                a10 = Vector512.FusedMultiplyAdd(v1, u0, a10);
            }

            if (TWeights.Value > 2)
            {
                a20 = Vector512.FusedMultiplyAdd(v2, u0, a20);
            }

            if (TWeights.Value > 3)
            {
                a30 = Vector512.FusedMultiplyAdd(v3, u0, a30);
            }

            if (TRows.Value > 1)
            {
                var u1 = Vector512.LoadUnsafe(ref x1, i);
                a01 = Vector512.FusedMultiplyAdd(v0, u1, a01);
                if (TWeights.Value > 1)
                {
                    a11 = Vector512.FusedMultiplyAdd(v1, u1, a11);
                }

                if (TWeights.Value > 2)
                {
                    a21 = Vector512.FusedMultiplyAdd(v2, u1, a21);
                }

                if (TWeights.Value > 3)
                {
                    a31 = Vector512.FusedMultiplyAdd(v3, u1, a31);
                }
            }

            if (TRows.Value > 2)
            {
                var u2 = Vector512.LoadUnsafe(ref x2, i);
                a02 = Vector512.FusedMultiplyAdd(v0, u2, a02);
                if (TWeights.Value > 1)
                {
                    a12 = Vector512.FusedMultiplyAdd(v1, u2, a12);
                }

                if (TWeights.Value > 2)
                {
                    a22 = Vector512.FusedMultiplyAdd(v2, u2, a22);
                }

                if (TWeights.Value > 3)
                {
                    a32 = Vector512.FusedMultiplyAdd(v3, u2, a32);
                }
            }

            if (TRows.Value > 3)
            {
                var u3 = Vector512.LoadUnsafe(ref x3, i);
                a03 = Vector512.FusedMultiplyAdd(v0, u3, a03);
                if (TWeights.Value > 1)
                {
                    a13 = Vector512.FusedMultiplyAdd(v1, u3, a13);
                }

                if (TWeights.Value > 2)
                {
                    a23 = Vector512.FusedMultiplyAdd(v2, u3, a23);
                }

                if (TWeights.Value > 3)
                {
                    a33 = Vector512.FusedMultiplyAdd(v3, u3, a33);
                }
            }

            if (TRows.Value > 4)
            {
                var u4 = Vector512.LoadUnsafe(ref x4, i);
                a04 = Vector512.FusedMultiplyAdd(v0, u4, a04);
                if (TWeights.Value > 1)
                {
                    a14 = Vector512.FusedMultiplyAdd(v1, u4, a14);
                }

                if (TWeights.Value > 2)
                {
                    a24 = Vector512.FusedMultiplyAdd(v2, u4, a24);
                }

                if (TWeights.Value > 3)
                {
                    a34 = Vector512.FusedMultiplyAdd(v3, u4, a34);
                }
            }

            if (TRows.Value > 5)
            {
                var u5 = Vector512.LoadUnsafe(ref x5, i);
                a05 = Vector512.FusedMultiplyAdd(v0, u5, a05);
                if (TWeights.Value > 1)
                {
                    a15 = Vector512.FusedMultiplyAdd(v1, u5, a15);
                }

                if (TWeights.Value > 2)
                {
                    a25 = Vector512.FusedMultiplyAdd(v2, u5, a25);
                }

                if (TWeights.Value > 3)
                {
                    a35 = Vector512.FusedMultiplyAdd(v3, u5, a35);
                }
            }

            if (TRows.Value > 6)
            {
                var u6 = Vector512.LoadUnsafe(ref x6, i);
                a06 = Vector512.FusedMultiplyAdd(v0, u6, a06);
                if (TWeights.Value > 1)
                {
                    a16 = Vector512.FusedMultiplyAdd(v1, u6, a16);
                }

                if (TWeights.Value > 2)
                {
                    a26 = Vector512.FusedMultiplyAdd(v2, u6, a26);
                }

                if (TWeights.Value > 3)
                {
                    a36 = Vector512.FusedMultiplyAdd(v3, u6, a36);
                }
            }

            if (TRows.Value > 7)
            {
                var u7 = Vector512.LoadUnsafe(ref x7, i);
                a07 = Vector512.FusedMultiplyAdd(v0, u7, a07);
                if (TWeights.Value > 1)
                {
                    a17 = Vector512.FusedMultiplyAdd(v1, u7, a17);
                }

                if (TWeights.Value > 2)
                {
                    a27 = Vector512.FusedMultiplyAdd(v2, u7, a27);
                }

                if (TWeights.Value > 3)
                {
                    a37 = Vector512.FusedMultiplyAdd(v3, u7, a37);
                }
            }
        }

        StoreWeightRow<TRows>(ref w0, ref x, inFeatures, i, n, ref y, outFeatures, o, ref bias, hasBias, a00, a01, a02, a03, a04, a05, a06, a07);
        if (TWeights.Value > 1)
        {
            StoreWeightRow<TRows>(ref w1, ref x, inFeatures, i, n, ref y, outFeatures, o + 1, ref bias, hasBias, a10, a11, a12, a13, a14, a15, a16, a17);
        }

        if (TWeights.Value > 2)
        {
            StoreWeightRow<TRows>(ref w2, ref x, inFeatures, i, n, ref y, outFeatures, o + 2, ref bias, hasBias, a20, a21, a22, a23, a24, a25, a26, a27);
        }

        if (TWeights.Value > 3)
        {
            StoreWeightRow<TRows>(ref w3, ref x, inFeatures, i, n, ref y, outFeatures, o + 3, ref bias, hasBias, a30, a31, a32, a33, a34, a35, a36, a37);
        }
    }

    /// <summary>Weight row <paramref name="o"/>'s outputs for the <typeparamref name="TRows"/> rows of x, from its accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreWeightRow<TRows>(ref float weightRow, ref float x, int inFeatures, nuint from, nuint n, ref float y, int outFeatures,
        int o, ref float bias, bool hasBias, Vector512<float> r0, Vector512<float> r1, Vector512<float> r2, Vector512<float> r3,
        Vector512<float> r4, Vector512<float> r5, Vector512<float> r6, Vector512<float> r7)
        where TRows : struct, ITileCount
    {
        Store(r0, ref weightRow, ref x, from, n, ref y, outFeatures, 0, o, ref bias, hasBias);
        if (TRows.Value > 1)
        {
            Store(r1, ref weightRow, ref Unsafe.Add(ref x, (nint)1 * inFeatures), from, n, ref y, outFeatures, 1, o, ref bias, hasBias);
        }

        if (TRows.Value > 2)
        {
            Store(r2, ref weightRow, ref Unsafe.Add(ref x, (nint)2 * inFeatures), from, n, ref y, outFeatures, 2, o, ref bias, hasBias);
        }

        if (TRows.Value > 3)
        {
            Store(r3, ref weightRow, ref Unsafe.Add(ref x, (nint)3 * inFeatures), from, n, ref y, outFeatures, 3, o, ref bias, hasBias);
        }

        if (TRows.Value > 4)
        {
            Store(r4, ref weightRow, ref Unsafe.Add(ref x, (nint)4 * inFeatures), from, n, ref y, outFeatures, 4, o, ref bias, hasBias);
        }

        if (TRows.Value > 5)
        {
            Store(r5, ref weightRow, ref Unsafe.Add(ref x, (nint)5 * inFeatures), from, n, ref y, outFeatures, 5, o, ref bias, hasBias);
        }

        if (TRows.Value > 6)
        {
            Store(r6, ref weightRow, ref Unsafe.Add(ref x, (nint)6 * inFeatures), from, n, ref y, outFeatures, 6, o, ref bias, hasBias);
        }

        if (TRows.Value > 7)
        {
            Store(r7, ref weightRow, ref Unsafe.Add(ref x, (nint)7 * inFeatures), from, n, ref y, outFeatures, 7, o, ref bias, hasBias);
        }
    }

    /// <summary>y[row, o] = Σ of the accumulator's lanes, then the inputs from <paramref name="from"/> on one by one, then the bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> accumulator, ref float weightRow, ref float xRow, nuint from, nuint n, ref float y, int outFeatures, int row, int o, ref float bias, bool hasBias)
    {
        var sum = Vector512.Sum(accumulator);
        for (var j = from; j < n; j++)
        {
            sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref weightRow, j), Unsafe.Add(ref xRow, j), sum);
        }

        Unsafe.Add(ref y, (nint)row * outFeatures + o) = hasBias ? sum + Unsafe.Add(ref bias, o) : sum;
    }
}
