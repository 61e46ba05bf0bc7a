using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Kernels.Rotary;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Phi3;

/// <summary>
/// Phi-3 attention (transformers' Phi3Attention): one fused qkv_proj whose output is split into query, key and value
/// heads in that order; otherwise Llama's grouped-query attention with RoPE. A PEFT adapter on qkv_proj is one B·A on the
/// fused output, which is exactly how the slot pool applies it here. With a partial rotary factor, cos and sin cover only
/// the leading rotary dimensions and <see cref="RotaryEmbedding.Apply"/> passes the rest of each head through, as
/// modeling_phi3.py's apply_rotary_pos_emb does.
/// </summary>
internal sealed class Phi3Attention : nn.Module
{
    private readonly AdaptedLinear qkv_proj;
    private readonly AdaptedLinear o_proj;
    private readonly int heads;
    private readonly int kvHeads;
    private readonly int headDimension;

    public Phi3Attention(Llama.LlamaConfig config, ModelLoadOptions options) : base(nameof(Phi3Attention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.KeyValueHeads;
        headDimension = config.HeadDimension;
        qkv_proj = new AdaptedLinear(config.HiddenSize, (heads + 2 * kvHeads) * headDimension, config.AttentionBias, options);
        o_proj = new AdaptedLinear(heads * headDimension, config.HiddenSize, config.AttentionBias, options);
        RegisterComponents();
    }

    /// <summary>x [rows, hidden] → [rows, hidden]; writes this layer's keys and values into the cache.</summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor cacheKeys, Tensor cacheValues, AttentionBatch attention, LoraBatch? lora)
    {
        var rows = x.shape[0];
        var qkv = qkv_proj.Forward(x, lora);
        var queryWidth = heads * headDimension;
        var kvWidth = kvHeads * headDimension;
        var q = RotaryEmbedding.Apply(qkv.narrow(1, 0, queryWidth).reshape(rows, heads, headDimension), cos, sin);
        var k = RotaryEmbedding.Apply(qkv.narrow(1, queryWidth, kvWidth).reshape(rows, kvHeads, headDimension), cos, sin);
        var v = qkv.narrow(1, queryWidth + kvWidth, kvWidth).reshape(rows, kvHeads, headDimension);
        return o_proj.Forward(PagedAttention.Causal(q, k, v, cacheKeys, cacheValues, attention), lora);
    }
}
