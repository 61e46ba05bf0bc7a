using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Gpt2;

/// <summary>GPT-2 attention: one fused q/k/v projection (c_attn) and an output projection (c_proj).</summary>
internal sealed class Gpt2Attention : nn.Module
{
    private readonly AdaptedLinear c_attn;
    private readonly AdaptedLinear c_proj;
    private readonly int heads;
    private readonly int headDimension;

    /// <summary>Projections are stored [out, in]; the checkpoint's Conv1D layout is transposed at load.</summary>
    public Gpt2Attention(Gpt2Config config, ModelLoadOptions options) : base(nameof(Gpt2Attention))
    {
        heads = config.NHead;
        headDimension = config.NEmbd / config.NHead;
        c_attn = new AdaptedLinear(config.NEmbd, 3L * config.NEmbd, true, options);
        c_proj = new AdaptedLinear(config.NEmbd, config.NEmbd, true, options);
        RegisterComponents();
    }

    /// <summary>x [rows, hidden] → [rows, hidden]; writes this layer's keys and values into the cache.</summary>
    public Tensor Forward(Tensor x, Tensor cacheKeys, Tensor cacheValues, AttentionBatch attention, LoraBatch? lora)
    {
        var rows = x.shape[0];
        var qkv = c_attn.Forward(x, lora).view(rows, 3, heads, headDimension);
        var attended = PagedAttention.Causal(qkv.select(1, 0), qkv.select(1, 1), qkv.select(1, 2), cacheKeys, cacheValues, attention);
        return c_proj.Forward(attended, lora);
    }
}
