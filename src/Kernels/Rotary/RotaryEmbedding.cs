using static TorchSharp.torch;

namespace InferServer.Kernels.Rotary;

/// <summary>
/// Rotary position embedding (Su et al. 2021) in the rotate-half layout transformers uses for Llama checkpoints.
/// cos/sin for every position up to the model's maximum are computed once, in float64 then cast, and looked up per
/// step, so layers never recompute them.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor cosTable;
    private readonly Tensor sinTable;

    /// <summary>Half the rotated dimension: the number of distinct frequencies.</summary>
    public int HalfDimension { get; }

    /// <summary>Builds the tables; call outside any per-step dispose scope (they live as long as the model).</summary>
    public RotaryEmbedding(int headDimension, double theta, int maxPositions, RopeScaling? scaling, ScalarType dtype, Device device)
    {
        if (headDimension % 2 != 0)
        {
            throw new ArgumentException($"rotary head dimension must be even, got {headDimension}", nameof(headDimension));
        }

        HalfDimension = headDimension / 2;
        using var scope = NewDisposeScope();
        var exponents = TensorMath.Range(0, headDimension, 2, ScalarType.Float64).DividedBy(headDimension);
        // TorchSharp's 1.0 / t is t.reciprocal() times 1.0, and x · 1.0 is x exactly.
        var inverseFrequency = pow(theta, exponents).reciprocal();
        if (scaling is not null)
        {
            inverseFrequency = Scale(inverseFrequency, scaling);
        }

        var positions = TensorMath.Range(0, maxPositions, 1, ScalarType.Float64);
        var angles = outer(positions, inverseFrequency);
        cosTable = angles.cos().to(dtype, device).DetachFromDisposeScope();
        sinTable = angles.sin().to(dtype, device).DetachFromDisposeScope();
    }

    /// <summary>Number of positions covered by the tables.</summary>
    public long MaxPositions => cosTable.shape[0];

    /// <summary>cos and sin rows [tokens, HalfDimension] for the given absolute positions (int64 [tokens]).</summary>
    public (Tensor Cos, Tensor Sin) ForPositions(Tensor positions) =>
        (cosTable.index_select(0, positions), sinTable.index_select(0, positions));

    /// <summary>
    /// Rotates x [tokens, heads, headDim]: out = x·cos + rotate_half(x)·sin with rotate_half(x) = [−x₂, x₁], the
    /// first and second halves of the head dimension (transformers' apply_rotary_pos_emb).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        var half = x.shape[^1] / 2;
        var first = x[.., .., ..(int)half];
        var second = x[.., .., (int)half..];
        var c = cos.unsqueeze(1);
        var s = sin.unsqueeze(1);
        return cat([first * c - second * s, (second * c).Plus(first * s)], -1);
    }

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
