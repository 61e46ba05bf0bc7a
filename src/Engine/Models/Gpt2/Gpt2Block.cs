using InferServer.Kernels;
using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Gpt2;

/// <summary>Pre-norm GPT-2 block: h + attn(ln_1(h)), then h + mlp(ln_2(h)).</summary>
internal sealed class Gpt2Block : nn.Module
{
    private readonly Common.LayerNorm ln_1;
    private readonly Gpt2Attention attn;
    private readonly Common.LayerNorm ln_2;
    private readonly Gpt2Mlp mlp;

    public Gpt2Block(Gpt2Config config, ModelLoadOptions options) : base(nameof(Gpt2Block))
    {
        ln_1 = new Common.LayerNorm(config.NEmbd, config.LayerNormEpsilon, options);
        attn = new Gpt2Attention(config, options);
        ln_2 = new Common.LayerNorm(config.NEmbd, config.LayerNormEpsilon, options);
        mlp = new Gpt2Mlp(config, options);
        RegisterComponents();
    }

    /// <summary>h [rows, hidden] → [rows, hidden].</summary>
    public Tensor Forward(Tensor h, Tensor cacheKeys, Tensor cacheValues, AttentionBatch attention, LoraBatch? lora)
    {
        h = h.Plus(attn.Forward(ln_1.Forward(h), cacheKeys, cacheValues, attention, lora));
        return h.Plus(mlp.Forward(ln_2.Forward(h), lora));
    }
}
