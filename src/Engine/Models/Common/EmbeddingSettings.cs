namespace InferServer.Engine.Models.Common;

/// <summary>
/// How Embed turns an encoder's last hidden state into one vector: mean over the sequence's tokens (sentence-transformers'
/// pooling_mode_mean_tokens; every token counts, as Embed never pads), then L2-normalised when the request asks, or by
/// default when the checkpoint's modules.json ends in a Normalize module.
/// </summary>
/// <param name="NormalizeByDefault">Whether a request that does not say normalises.</param>
public sealed record EmbeddingSettings(bool NormalizeByDefault)
{
    /// <summary>A checkpoint without sentence-transformers files: mean pooling, not normalised.</summary>
    public static EmbeddingSettings Default { get; } = new(NormalizeByDefault: false);
}
