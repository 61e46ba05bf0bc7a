using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Kernels.Rotary;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Llama;

/// <summary>
/// Multi-head attention with grouped KV heads and rotary positions (transformers' LlamaAttention); for Qwen3 also q_norm
/// and k_norm, an RMSNorm over head_dim on every query and key head before RoPE (Qwen3Attention), so the KV cache holds
/// normalised, rotated keys.
/// </summary>
internal sealed class LlamaAttention : nn.Module
{
    private readonly AdaptedLinear q_proj;
    private readonly AdaptedLinear k_proj;
    private readonly AdaptedLinear v_proj;
    private readonly AdaptedLinear o_proj;
    private readonly RmsNormLayer? q_norm;
    private readonly RmsNormLayer? k_norm;
    private readonly int heads;
    private readonly int kvHeads;
    private readonly int headDimension;

    public LlamaAttention(LlamaConfig config, ModelLoadOptions options) : base(nameof(LlamaAttention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.KeyValueHeads;
        headDimension = config.HeadDimension;
        q_proj = new AdaptedLinear(config.HiddenSize, heads * headDimension, config.QkvBias, options);
        k_proj = new AdaptedLinear(config.HiddenSize, kvHeads * headDimension, config.QkvBias, options);
        v_proj = new AdaptedLinear(config.HiddenSize, kvHeads * headDimension, config.QkvBias, options);
        o_proj = new AdaptedLinear(heads * headDimension, config.HiddenSize, config.OutputBias, options);
        if (config.HasQueryKeyNorm)
        {
            q_norm = new RmsNormLayer(headDimension, config.RmsNormEps, options);
            k_norm = new RmsNormLayer(headDimension, config.RmsNormEps, options);
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
        var attended = PagedAttention.Causal(q, k, v, cacheKeys, cacheValues, attention);
        return o_proj.Forward(attended, lora);
    }
}
