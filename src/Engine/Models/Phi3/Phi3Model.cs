using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Phi3;

/// <summary>The decoder stack under the "model." prefix of a Phi3ForCausalLM checkpoint.</summary>
internal sealed class Phi3Model : nn.Module
{
    private readonly Common.Embedding embed_tokens;
    private readonly ModuleList<Phi3DecoderLayer> layers;
    private readonly RmsNormLayer norm;

    public Phi3Model(Llama.LlamaConfig config, ModelLoadOptions options) : base(nameof(Phi3Model))
    {
        embed_tokens = new Common.Embedding(config.VocabSize, config.HiddenSize, options);
        layers = new ModuleList<Phi3DecoderLayer>();
        for (var i = 0; i < config.NumHiddenLayers; i++)
        {
            layers.Add(new Phi3DecoderLayer(config, options));
        }

        norm = new RmsNormLayer(config.HiddenSize, config.RmsNormEps, options);
        RegisterComponents();
    }

    /// <summary>Token embeddings (also the output projection when tied, as in Phi-4-mini).</summary>
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
