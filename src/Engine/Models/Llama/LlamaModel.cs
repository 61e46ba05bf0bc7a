using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Llama;

/// <summary>The decoder stack under the "model." prefix of a LlamaForCausalLM checkpoint.</summary>
internal sealed class LlamaModel : nn.Module
{
    private readonly Common.Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RmsNormLayer norm;

    public LlamaModel(LlamaConfig config, ModelLoadOptions options) : base(nameof(LlamaModel))
    {
        embed_tokens = new Common.Embedding(config.VocabSize, config.HiddenSize, options);
        layers = new ModuleList<LlamaDecoderLayer>();
        for (var i = 0; i < config.NumHiddenLayers; i++)
        {
            layers.Add(new LlamaDecoderLayer(config, options));
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
        for (var i = 0; i < layers.Count; i++)
        {
            h = layers[i].Forward(h, cos, sin, cache.Keys(i), cache.Values(i), attention, lora);
        }

        return norm.Forward(h);
    }
}
