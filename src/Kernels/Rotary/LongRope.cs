namespace InferServer.Kernels.Rotary;

/// <summary>
/// LongRoPE (rope_scaling type "longrope", formerly "su": Phi-3-128k, Phi-3.5-mini, Phi-4-mini), as transformers computes it
/// (modeling_rope_utils.py _compute_longrope_parameters and dynamic_rope_update's longrope_frequency_update): every
/// frequency theta^(−2i/d) is divided by <see cref="ShortFactor"/>[i] while the sequence holds at most
/// <see cref="OriginalMaxPositions"/> tokens and by <see cref="LongFactor"/>[i] once it holds more, and cos and sin are
/// both multiplied by <see cref="AttentionFactor"/>.
/// </summary>
/// <param name="ShortFactor">One divisor per frequency (half the rotary dimension), for sequences up to the original context.</param>
/// <param name="LongFactor">One divisor per frequency, for longer sequences.</param>
/// <param name="OriginalMaxPositions">original_max_position_embeddings: the context the model was pretrained with.</param>
/// <param name="AttentionFactor">rope_scaling's attention_factor, else √(1 + ln(max / original) / ln(original)) (1 when max ≤ original).</param>
public sealed record LongRope(IReadOnlyList<double> ShortFactor, IReadOnlyList<double> LongFactor, int OriginalMaxPositions, double AttentionFactor)
{
    /// <summary>
    /// The attention factor transformers derives when rope_scaling gives none: with factor = max_position_embeddings /
    /// original_max_position_embeddings, √(1 + ln(factor) / ln(original)) above 1, else 1.
    /// </summary>
    public static double DefaultAttentionFactor(int maxPositions, int originalMaxPositions)
    {
        var factor = (double)maxPositions / originalMaxPositions;
        return factor <= 1.0 ? 1.0 : Math.Sqrt(1 + Math.Log(factor) / Math.Log(originalMaxPositions));
    }
}
