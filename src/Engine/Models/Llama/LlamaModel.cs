using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Llama;

/// <summary>
/// The decoder stack under the "model." prefix of a LlamaForCausalLM checkpoint, and of a Phi3ForCausalLM one, whose
/// layers differ only by their fused projections (the loader passes Phi-3's layer as <c>layer</c>).
/// </summary>
internal sealed class LlamaModel : nn.Module
{
    private readonly Common.Embedding embed_tokens;
    private readonly ModuleList<nn.Module> layers;
    private readonly IDecoderLayer[] decoderLayers;
    private readonly RmsNormLayer norm;

    public LlamaModel(LlamaConfig config, ModelLoadOptions options, Func<LlamaConfig, ModelLoadOptions, IDecoderLayer>? layer = null)
        : base(nameof(LlamaModel))
    {
        layer ??= (c, o) => new LlamaDecoderLayer(c, o);
        embed_tokens = new Common.Embedding(config.VocabSize, config.HiddenSize, options);
        decoderLayers = new IDecoderLayer[config.NumHiddenLayers];
        layers = new ModuleList<nn.Module>();
        for (var i = 0; i < config.NumHiddenLayers; i++)
        {
            decoderLayers[i] = layer(config, options);
            layers.Add((nn.Module)decoderLayers[i]);
        }

        norm = new RmsNormLayer(config.HiddenSize, config.RmsNormEps, options);
        RegisterComponents();
    }

    /// <summary>Token embeddings (also the output projection when embeddings are tied).</summary>
    public Tensor EmbeddingWeight => embed_tokens.Weight;

    /// <summary>Final hidden states [rows, hidden] of one step.</summary>
    public Tensor Forward(Tensor inputIds, Tensor cos, Tensor sin, KvCache cache, AttentionBatch attention, LoraBatch? lora)
    {
        var h = embed_tokens.Forward(inputIds, lora);
        for (var i = 0; i < decoderLayers.Length; i++)
        {
            h = decoderLayers[i].Forward(h, cos, sin, cache.Keys(i), cache.Values(i), attention, lora);
        }

        return norm.Forward(h);
    }
}
