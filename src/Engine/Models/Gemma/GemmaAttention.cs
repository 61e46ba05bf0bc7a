using InferServer.Kernels;
using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Kernels.Rotary;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Gemma;

/// <summary>
/// Gemma 2/3 attention (transformers' Gemma2Attention, Gemma3Attention): scores scaled by query_pre_attn_scalar^−½ instead
/// of head_dim^−½; Gemma 2 soft-caps the scores (cap·tanh(s / cap)) before the mask; Gemma 3 applies q_norm/k_norm (Gemma
/// RMSNorm over head_dim) before RoPE. Which positions are visible (sliding window or not) is decided by the
/// <see cref="AttentionBatch"/> the layer is handed.
/// </summary>
internal sealed class GemmaAttention : nn.Module
{
    private readonly AdaptedLinear q_proj;
    private readonly AdaptedLinear k_proj;
    private readonly AdaptedLinear v_proj;
    private readonly AdaptedLinear o_proj;
    private readonly GemmaRmsNorm? q_norm;
    private readonly GemmaRmsNorm? k_norm;
    private readonly int heads;
    private readonly int kvHeads;
    private readonly int headDimension;
    private readonly double scale;
    private readonly double? softCap;

    public GemmaAttention(GemmaConfig config, ModelLoadOptions options) : base(nameof(GemmaAttention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.KeyValueHeads;
        headDimension = config.HeadDim;
        scale = 1 / Math.Sqrt(config.QueryPreAttnScalar);
        softCap = config.AttentionSoftCap;
        q_proj = new AdaptedLinear(config.HiddenSize, heads * headDimension, config.AttentionBias, options);
        k_proj = new AdaptedLinear(config.HiddenSize, kvHeads * headDimension, config.AttentionBias, options);
        v_proj = new AdaptedLinear(config.HiddenSize, kvHeads * headDimension, config.AttentionBias, options);
        o_proj = new AdaptedLinear(heads * headDimension, config.HiddenSize, config.AttentionBias, options);
        if (config.IsGemma3)
        {
            q_norm = new GemmaRmsNorm(headDimension, config.RmsNormEps, options);
            k_norm = new GemmaRmsNorm(headDimension, config.RmsNormEps, options);
        }

        RegisterComponents();
    }

    /// <summary>x [rows, hidden] → [rows, hidden]; writes this layer's keys and values into the cache.</summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor cacheKeys, Tensor cacheValues, AttentionBatch attention, LoraBatch? lora)
    {
        var rows = x.shape[0];
        var q = q_proj.Forward(x, lora).view(rows, heads, headDimension);
        var k = k_proj.Forward(x, lora).view(rows, kvHeads, headDimension);
        if (q_norm is not null && k_norm is not null)
        {
            q = q_norm.Forward(q);
            k = k_norm.Forward(k);
        }

        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        var v = v_proj.Forward(x, lora).view(rows, kvHeads, headDimension);
        var attended = softCap is double cap
            ? SoftCappedAttention.Causal(q, k, v, cacheKeys, cacheValues, attention, scale, cap)
            // scaled_dot_product_attention divides by sqrt(head_dim); the query carries the rest of Gemma's scale.
            : PagedAttention.Causal(q.Times(scale * Math.Sqrt(headDimension)), k, v, cacheKeys, cacheValues, attention);
        return o_proj.Forward(attended, lora);
    }
}
