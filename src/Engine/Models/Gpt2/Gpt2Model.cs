using InferServer.Kernels;
using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Gpt2;

/// <summary>The GPT-2 stack under the "transformer." prefix: token and learned position embeddings, blocks, final norm.</summary>
internal sealed class Gpt2Model : nn.Module
{
    private readonly Common.Embedding wte;
    private readonly Common.Embedding wpe;
    private readonly ModuleList<Gpt2Block> h;
    private readonly Common.LayerNorm ln_f;

    public Gpt2Model(Gpt2Config config, ModelLoadOptions options) : base(nameof(Gpt2Model))
    {
        wte = new Common.Embedding(config.VocabSize, config.NEmbd, options);
        wpe = new Common.Embedding(config.NPositions, config.NEmbd, options);
        h = new ModuleList<Gpt2Block>();
        for (var i = 0; i < config.NLayer; i++)
        {
            h.Add(new Gpt2Block(config, options));
        }

        ln_f = new Common.LayerNorm(config.NEmbd, config.LayerNormEpsilon, options);
        RegisterComponents();
    }

    /// <summary>Token embeddings, which GPT-2 also uses as its output projection.</summary>
    public Tensor TokenEmbeddingWeight => wte.Weight;

    /// <summary>Final hidden states [rows, hidden] of one step.</summary>
    public Tensor Forward(Tensor inputIds, Tensor positions, KvCache cache, AttentionBatch attention, LoraBatch? lora)
    {
        var hidden = wte.Forward(inputIds, lora).Plus(wpe.Forward(positions, lora));
        for (var i = 0; i < h.Count; i++)
        {
            hidden = h[i].Forward(hidden, cache.Keys(i), cache.Values(i), attention, lora);
        }

        return ln_f.Forward(hidden);
    }
}
