using InferServer.Kernels;
using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Gemma;

/// <summary>
/// Gemma 2/3 decoder layer: normed around both blocks, h + post_attention_layernorm(attn(input_layernorm(h))), then
/// h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h))).
/// </summary>
internal sealed class GemmaDecoderLayer : nn.Module
{
    private readonly GemmaRmsNorm input_layernorm;
    private readonly GemmaAttention self_attn;
    private readonly GemmaRmsNorm post_attention_layernorm;
    private readonly GemmaRmsNorm pre_feedforward_layernorm;
    private readonly GemmaMlp mlp;
    private readonly GemmaRmsNorm post_feedforward_layernorm;

    public GemmaDecoderLayer(GemmaConfig config, ModelLoadOptions options) : base(nameof(GemmaDecoderLayer))
    {
        input_layernorm = new GemmaRmsNorm(config.HiddenSize, config.RmsNormEps, options);
        self_attn = new GemmaAttention(config, options);
        post_attention_layernorm = new GemmaRmsNorm(config.HiddenSize, config.RmsNormEps, options);
        pre_feedforward_layernorm = new GemmaRmsNorm(config.HiddenSize, config.RmsNormEps, options);
        mlp = new GemmaMlp(config, options);
        post_feedforward_layernorm = new GemmaRmsNorm(config.HiddenSize, config.RmsNormEps, options);
        RegisterComponents();
    }

    /// <summary>h [rows, hidden] → [rows, hidden].</summary>
    public Tensor Forward(Tensor h, Tensor cos, Tensor sin, Tensor cacheKeys, Tensor cacheValues, AttentionBatch attention, LoraBatch? lora)
    {
        var attended = self_attn.Forward(input_layernorm.Forward(h), cos, sin, cacheKeys, cacheValues, attention, lora);
        h = h.Plus(post_attention_layernorm.Forward(attended));
        return h.Plus(post_feedforward_layernorm.Forward(mlp.Forward(pre_feedforward_layernorm.Forward(h), lora)));
    }
}
