using InferServer.Kernels;
using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Llama;

/// <summary>Pre-norm decoder layer: h + attn(norm(h)), then h + mlp(norm(h)).</summary>
internal sealed class LlamaDecoderLayer : nn.Module, IDecoderLayer
{
    private readonly RmsNormLayer input_layernorm;
    private readonly LlamaAttention self_attn;
    private readonly RmsNormLayer post_attention_layernorm;
    private readonly LlamaMlp mlp;

    public LlamaDecoderLayer(LlamaConfig config, ModelLoadOptions options) : base(nameof(LlamaDecoderLayer))
    {
        input_layernorm = new RmsNormLayer(config.HiddenSize, config.RmsNormEps, options);
        self_attn = new LlamaAttention(config, options);
        post_attention_layernorm = new RmsNormLayer(config.HiddenSize, config.RmsNormEps, options);
        mlp = new LlamaMlp(config, options);
        RegisterComponents();
    }

    /// <summary>h [rows, hidden] → [rows, hidden].</summary>
    public Tensor Forward(Tensor h, Tensor cos, Tensor sin, Tensor cacheKeys, Tensor cacheValues, AttentionBatch attention, LoraBatch? lora)
    {
        h = h.Plus(self_attn.Forward(input_layernorm.Forward(h), cos, sin, cacheKeys, cacheValues, attention, lora));
        return h.Plus(mlp.Forward(post_attention_layernorm.Forward(h), lora));
    }
}
