using InferServer.Kernels.Attention;
using static TorchSharp.torch;

namespace InferServer.Kernels.Rotary;

/// <summary>
/// Rotary position embedding (Su et al. 2021) in the rotate-half layout transformers uses for Llama checkpoints.
/// cos/sin for every position up to the model's maximum are computed once, in float64 then cast, and looked up per
/// step, so layers never recompute them. Partial rotary (Phi-4-mini's partial_rotary_factor) rotates only the first
/// <see cref="HalfDimension"/> · 2 dimensions of each head; LongRoPE keeps a second table for long sequences.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor cosTable;
    private readonly Tensor sinTable;
    private readonly LongRope? longRope;
    private readonly int maxPositions;

    /// <summary>Half the rotated dimension: the number of distinct frequencies.</summary>
    public int HalfDimension { get; }

    /// <summary>
    /// Builds the tables; call outside any per-step dispose scope (they live as long as the model).
    /// <paramref name="rotaryDimension"/> (default: the whole head) is how many leading dimensions of a head rotate,
    /// int(head_dim · partial_rotary_factor) in transformers; its frequencies are theta^(−2i/rotaryDimension).
    /// <paramref name="longRope"/> replaces <paramref name="scaling"/> for rope_scaling type longrope.
    /// </summary>
    public RotaryEmbedding(int headDimension, double theta, int maxPositions, RopeScaling? scaling, ScalarType dtype, Device device,
        int? rotaryDimension = null, LongRope? longRope = null)
    {
        var dimension = rotaryDimension ?? headDimension;
        if (dimension % 2 != 0 || dimension <= 0 || dimension > headDimension)
        {
            throw new ArgumentException($"rotary dimension must be even and within the head's {headDimension}, got {dimension}", nameof(rotaryDimension));
        }

        if (longRope is not null && scaling is not null)
        {
            throw new ArgumentException("longrope and another rope_scaling cannot both apply", nameof(longRope));
        }

        if (longRope is not null && (longRope.ShortFactor.Count != dimension / 2 || longRope.LongFactor.Count != dimension / 2))
        {
            throw new ArgumentException($"longrope needs {dimension / 2} short and long factors, got {longRope.ShortFactor.Count} and {longRope.LongFactor.Count}", nameof(longRope));
        }

        HalfDimension = dimension / 2;
        this.longRope = longRope;
        this.maxPositions = maxPositions;
        using var scope = NewDisposeScope();
        var exponents = TensorMath.Range(0, dimension, 2, ScalarType.Float64).DividedBy(dimension);
        var powers = pow(theta, exponents);
        var positions = TensorMath.Range(0, maxPositions, 1, ScalarType.Float64);
        Tensor angles;
        if (longRope is null)
        {
            // TorchSharp's 1.0 / t is t.reciprocal() times 1.0, and x · 1.0 is x exactly.
            var inverseFrequency = powers.reciprocal();
            if (scaling is not null)
            {
                inverseFrequency = Scale(inverseFrequency, scaling);
            }

            angles = outer(positions, inverseFrequency);
        }
        else
        {
            // _compute_longrope_parameters: inv_freq = 1 / (ext_factors · base^(2i/d)); the short table's rows first, then
            // the long table's, so that a row's index is its position plus maxPositions when its sequence is long.
            var shortFrequency = (powers * tensor(longRope.ShortFactor.ToArray(), dtype: ScalarType.Float64)).reciprocal();
            var longFrequency = (powers * tensor(longRope.LongFactor.ToArray(), dtype: ScalarType.Float64)).reciprocal();
            angles = cat([outer(positions, shortFrequency), outer(positions, longFrequency)], 0);
        }

        var attentionFactor = longRope?.AttentionFactor ?? 1.0;
        cosTable = Scaled(angles.cos(), attentionFactor).to(dtype, device).DetachFromDisposeScope();
        sinTable = Scaled(angles.sin(), attentionFactor).to(dtype, device).DetachFromDisposeScope();
    }

    /// <summary>Number of positions covered by the tables (each of them, with LongRoPE).</summary>
    public long MaxPositions => maxPositions;

    /// <summary>cos and sin rows [tokens, HalfDimension] for the given absolute positions (int64 [tokens]).</summary>
    public (Tensor Cos, Tensor Sin) ForPositions(Tensor positions) =>
        (cosTable.index_select(0, positions), sinTable.index_select(0, positions));

    /// <summary>
    /// cos and sin rows for a step's token rows: <see cref="ForPositions"/>, except that with LongRoPE a row at position p
    /// reads the long table when max(prompt length, p + 1) exceeds the original context. That is what transformers'
    /// generate computes with its KV cache for one sequence (the factors follow max(position_ids) + 1 of the forward that
    /// computes a position: the whole prompt at once, then one position per decode step, cached keys keeping their
    /// rotation), decided per sequence so that its rotation does not depend on what it is batched with, nor on how its
    /// prompt was chunked (<see cref="SequenceSpan.PromptLength"/>; without it this step's context length stands for it).
    /// </summary>
    public (Tensor Cos, Tensor Sin) ForSequences(Tensor positions, IReadOnlyList<SequenceSpan> sequences)
    {
        if (longRope is null || sequences.All(sequence => Math.Max(sequence.PromptLength ?? 0, sequence.ContextLength) <= longRope.OriginalMaxPositions))
        {
            return ForPositions(positions);
        }

        var offsets = new long[positions.shape[0]];
        foreach (var sequence in sequences)
        {
            var prompt = sequence.PromptLength ?? sequence.ContextLength;
            for (var k = 0; k < sequence.QueryLength; k++)
            {
                var length = Math.Max(prompt, sequence.FirstQueryPosition + k + 1);
                offsets[sequence.QueryStart + k] = length > longRope.OriginalMaxPositions ? maxPositions : 0;
            }
        }

        return ForPositions(positions.Plus(tensor(offsets, device: positions.device)));
    }

    /// <summary>
    /// Rotates x [tokens, heads, headDim]: out = x·cos + rotate_half(x)·sin with rotate_half(x) = [−x₂, x₁], the
    /// first and second halves of the head dimension (transformers' apply_rotary_pos_emb).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        var half = cos.shape[^1];
        if (2 * half < x.shape[^1])
        {
            // Partial rotary (modeling_phi3.py apply_rotary_pos_emb): rotate the first 2·half dimensions, pass the rest through.
            return cat([Apply(x[.., .., ..(int)(2 * half)], cos, sin), x[.., .., (int)(2 * half)..]], -1);
        }

        var first = x[.., .., ..(int)half];
        var second = x[.., .., (int)half..];
        var c = cos.unsqueeze(1);
        var s = sin.unsqueeze(1);
        return cat([first * c - second * s, (second * c).Plus(first * s)], -1);
    }

    /// <summary>t · factor, or t itself (no multiplication, so the plain tables stay bit for bit) when the factor is 1.</summary>
    private static Tensor Scaled(Tensor t, double factor) => factor == 1.0 ? t : t.Times(factor);

    private static Tensor Scale(Tensor inverseFrequency, RopeScaling scaling) => scaling.Type switch
    {
        "linear" => inverseFrequency.DividedBy(scaling.Factor),
        "llama3" => ScaleLlama3(inverseFrequency, scaling),
        _ => throw new ArgumentException($"rope_scaling type '{scaling.Type}' is not implemented (linear, llama3 are)"),
    };

    /// <summary>
    /// transformers _compute_llama3_parameters: wavelengths longer than the original context / low factor are slowed by
    /// `factor`, shorter than original / high factor kept, those between interpolated.
    /// </summary>
    private static Tensor ScaleLlama3(Tensor inverseFrequency, RopeScaling scaling)
    {
        var lowWavelength = scaling.OriginalMaxPositionEmbeddings / scaling.LowFrequencyFactor;
        var highWavelength = scaling.OriginalMaxPositionEmbeddings / scaling.HighFrequencyFactor;
        // number / t and 1 − t spelled as TorchSharp's operators compute them (t.reciprocal() · number, −t + 1): same table.
        var wavelength = inverseFrequency.reciprocal().Times(2 * Math.PI);
        var scaled = where(wavelength.IsGreaterThan(lowWavelength), inverseFrequency.DividedBy(scaling.Factor), inverseFrequency);
        var smooth = wavelength.reciprocal().Times(scaling.OriginalMaxPositionEmbeddings).Minus(scaling.LowFrequencyFactor)
            .DividedBy(scaling.HighFrequencyFactor - scaling.LowFrequencyFactor);
        var smoothed = (smooth.negative().Plus(1) * scaled).DividedBy(scaling.Factor).Plus(smooth * scaled);
        var medium = wavelength.IsAtLeast(highWavelength).logical_and(wavelength.IsAtMost(lowWavelength));
        return where(medium, smoothed, scaled);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        cosTable.Dispose();
        sinTable.Dispose();
    }
}
