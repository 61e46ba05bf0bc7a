using InferServer.Kernels;
using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Phi3;

/// <summary>
/// Phi3ForCausalLM's decoder layer (Phi-3, Phi-3.5, Phi-4-mini; transformers' modeling_phi3.py): Llama's pre-norm layer with
/// q/k/v fused into qkv_proj and gate/up into gate_up_proj; the rest of the model is Llama's (<see cref="Llama.LlamaModel"/>
/// with this layer). Phi-4-mini's partial_rotary_factor (RoPE on the first 75 % of each head's dimensions) and the
/// longrope/su rope_scaling of the 128k models live in the model's rotary table (<see cref="Kernels.Rotary.RotaryEmbedding"/>),
/// which this layer's attention applies; config switches Phi-3 does not honour are refused by
/// <see cref="Llama.LlamaConfig.Validate"/>, by name.
/// </summary>
internal sealed class Phi3DecoderLayer : nn.Module, Llama.IDecoderLayer
{
    private readonly RmsNormLayer input_layernorm;
    private readonly Phi3Attention self_attn;
    private readonly RmsNormLayer post_attention_layernorm;
    private readonly Phi3Mlp mlp;

    public Phi3DecoderLayer(Llama.LlamaConfig config, ModelLoadOptions options) : base(nameof(Phi3DecoderLayer))
    {
        input_layernorm = new RmsNormLayer(config.HiddenSize, config.RmsNormEps, options);
        self_attn = new Phi3Attention(config, options);
        post_attention_layernorm = new RmsNormLayer(config.HiddenSize, config.RmsNormEps, options);
        mlp = new Phi3Mlp(config, options);
        RegisterComponents();
    }

    /// <summary>h [rows, hidden] → [rows, hidden].</summary>
    public Tensor Forward(Tensor h, Tensor cos, Tensor sin, Tensor cacheKeys, Tensor cacheValues, AttentionBatch attention, LoraBatch? lora)
    {
        h = h.Plus(self_attn.Forward(input_layernorm.Forward(h), cos, sin, cacheKeys, cacheValues, attention, lora));
        return h.Plus(mlp.Forward(post_attention_layernorm.Forward(h), lora));
    }
}
