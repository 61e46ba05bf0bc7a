using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Gemma;

/// <summary>The decoder stack under the "model." prefix of a Gemma 2/3 checkpoint.</summary>
internal sealed class GemmaModel : nn.Module
{
    private readonly Common.Embedding embed_tokens;
    private readonly ModuleList<GemmaDecoderLayer> layers;
    private readonly GemmaRmsNorm norm;
    private readonly bool[] sliding;
    private readonly double embeddingScale;

    public GemmaModel(GemmaConfig config, ModelLoadOptions options) : base(nameof(GemmaModel))
    {
        embed_tokens = new Common.Embedding(config.VocabSize, config.HiddenSize, options);
        layers = new ModuleList<GemmaDecoderLayer>();
        for (var i = 0; i < config.NumHiddenLayers; i++)
        {
            layers.Add(new GemmaDecoderLayer(config, options));
        }

        norm = new GemmaRmsNorm(config.HiddenSize, config.RmsNormEps, options);
        sliding = [.. Enumerable.Range(0, config.NumHiddenLayers).Select(config.IsSliding)];
        embeddingScale = Math.Sqrt(config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>Token embeddings (also the output projection: Gemma ties them).</summary>
    public Tensor EmbeddingWeight => embed_tokens.Weight;

    /// <summary>
    /// Final hidden states [rows, hidden] of one step. Embeddings (with any embedding LoRA) are scaled by √hidden, the
    /// factor rounded to the weights' dtype first as transformers rounds it. Sliding layers attend through
    /// <paramref name="local"/> with <paramref name="localRotary"/>'s angles, full ones through <paramref name="global"/>.
    /// </summary>
    public Tensor Forward(Tensor inputIds, (Tensor Cos, Tensor Sin) globalRotary, (Tensor Cos, Tensor Sin) localRotary, KvCache cache,
        AttentionBatch global, AttentionBatch local, LoraBatch? lora)
    {
        var h = embed_tokens.Forward(inputIds, lora);
        h = h * tensor(embeddingScale, h.dtype, h.device);
        for (var i = 0; i < layers.Count; i++)
        {
            var (cos, sin) = sliding[i] ? localRotary : globalRotary;
            h = layers[i].Forward(h, cos, sin, cache.Keys(i), cache.Values(i), sliding[i] ? local : global, lora);
        }

        return norm.Forward(h);
    }
}
