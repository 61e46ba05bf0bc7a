using InferServer.Kernels.Attention;
using InferServer.Kernels.Rotary;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Rotary;

/// <summary>
/// Partial rotary (Phi-4-mini) and LongRoPE's per-sequence choice of factors, against the formulas written out:
/// cos(p · f_i) with f_i = 1 / (factor_i · theta^(2i/d)), times the attention factor.
/// </summary>
public sealed class RotaryEmbeddingTests
{
    private const double Theta = 10000;

    [Fact]
    public void Apply_WithTablesNarrowerThanTheHead_RotatesTheLeadingDimensions_AndPassesTheRestThrough()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var rotary = new RotaryEmbedding(8, Theta, 16, null, ScalarType.Float64, CPU, rotaryDimension: 6);
        var x = randn(5, 2, 8, dtype: ScalarType.Float64);
        var (cos, sin) = rotary.ForPositions(arange(5, dtype: ScalarType.Int64));

        var rotated = RotaryEmbedding.Apply(x, cos, sin);

        Assert.Equal(3, rotary.HalfDimension);
        Assert.True(allclose(x[.., .., 6..], rotated[.., .., 6..], rtol: 0, atol: 0));
        // The leading 6 dimensions: [x1·cos − x2·sin, x2·cos + x1·sin] over halves of 3, frequencies theta^(−2i/6).
        for (var p = 0; p < 5; p++)
        {
            for (var i = 0; i < 3; i++)
            {
                var angle = p / Math.Pow(Theta, 2.0 * i / 6);
                var (x1, x2) = (x[p, 1, i].item<double>(), x[p, 1, i + 3].item<double>());
                Assert.Equal(x1 * Math.Cos(angle) - x2 * Math.Sin(angle), rotated[p, 1, i].item<double>(), 12);
                Assert.Equal(x2 * Math.Cos(angle) + x1 * Math.Sin(angle), rotated[p, 1, i + 3].item<double>(), 12);
            }
        }
    }

    [Fact]
    public void ForSequences_WithLongRope_ReadsTheLongFactorsOnlyForSequencesLongerThanTheOriginalContext()
    {
        using var scope = NewDisposeScope();
        var longRope = new LongRope([1.0, 1.5], [2.0, 8.0], OriginalMaxPositions: 4, AttentionFactor: 1.25);
        using var rotary = new RotaryEmbedding(4, Theta, 16, null, ScalarType.Float64, CPU, longRope: longRope);
        // One step: a 3-token prefill (length 3, short), a decode at position 4 (length 5, long), a decode at 3 (length 4,
        // short), the first chunk (positions 0-1) of a 6-token prompt (long, as the whole prompt in one forward would be),
        // and a decode at position 5 after a 2-token prompt (its positions up to 3 short when computed, this one long).
        SequenceSpan[] sequences =
        [
            new(0, 3, 3, [0, 1, 2]),
            new(3, 1, 5, [10, 11, 12, 13, 14]),
            new(4, 1, 4, [20, 21, 22, 23]),
            new(5, 2, 2, [30, 31]) { PromptLength = 6 },
            new(7, 1, 6, [40, 41, 42, 43, 44, 45]) { PromptLength = 2 },
        ];
        long[] positions = [0, 1, 2, 4, 3, 0, 1, 5];
        bool[] isLong = [false, false, false, true, false, true, true, true];

        var (cos, sin) = rotary.ForSequences(tensor(positions), sequences);

        for (var row = 0; row < positions.Length; row++)
        {
            var factors = isLong[row] ? longRope.LongFactor : longRope.ShortFactor;
            for (var i = 0; i < 2; i++)
            {
                var angle = positions[row] / (factors[i] * Math.Pow(Theta, 2.0 * i / 4));
                Assert.Equal(1.25 * Math.Cos(angle), cos[row, i].item<double>(), 12);
                Assert.Equal(1.25 * Math.Sin(angle), sin[row, i].item<double>(), 12);
            }
        }
    }

    [Fact]
    public void ForSequences_WithoutLongRope_IsForPositions()
    {
        using var scope = NewDisposeScope();
        using var rotary = new RotaryEmbedding(4, Theta, 16, null, ScalarType.Float32, CPU);
        var positions = tensor(new long[] { 0, 9, 15 });

        var (cos, sin) = rotary.ForSequences(positions, [new(0, 3, 16, [.. Enumerable.Range(0, 16).Select(i => (long)i)])]);

        Assert.True(allclose(rotary.ForPositions(positions).Cos, cos, rtol: 0, atol: 0));
        Assert.True(allclose(rotary.ForPositions(positions).Sin, sin, rtol: 0, atol: 0));
    }

    [Fact]
    public void LongRope_DefaultAttentionFactor_IsTransformersSqrtOfOnePlusLogFactorOverLogOriginal()
    {
        // Phi-4-mini: 131072 positions over an original 4096, factor 32: sqrt(1 + ln 32 / ln 4096) = sqrt(1 + 5/12).
        Assert.Equal(Math.Sqrt(1 + 5.0 / 12), LongRope.DefaultAttentionFactor(131072, 4096), 12);
        Assert.Equal(1.0, LongRope.DefaultAttentionFactor(4096, 4096));
    }
}
