using InferServer.Kernels;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Bert;

/// <summary>Word + position + token-type embeddings, then LayerNorm.</summary>
internal sealed class BertEmbeddings : nn.Module
{
    private readonly Common.Embedding word_embeddings;
    private readonly Common.Embedding position_embeddings;
    private readonly Common.Embedding token_type_embeddings;
    private readonly Common.LayerNorm LayerNorm;

    public BertEmbeddings(BertConfig config, ModelLoadOptions options) : base(nameof(BertEmbeddings))
    {
        word_embeddings = new Common.Embedding(config.VocabSize, config.HiddenSize, options);
        position_embeddings = new Common.Embedding(config.MaxPositionEmbeddings, config.HiddenSize, options);
        token_type_embeddings = new Common.Embedding(config.TypeVocabSize, config.HiddenSize, options);
        LayerNorm = new Common.LayerNorm(config.HiddenSize, config.LayerNormEps, options);
        RegisterComponents();
    }

    /// <summary>[rows] ids → [rows, hidden].</summary>
    public Tensor Forward(Tensor inputIds, Tensor positions, Tensor tokenTypeIds, LoraBatch? lora) =>
        LayerNorm.Forward(word_embeddings.Forward(inputIds, lora).Plus(position_embeddings.Forward(positions, lora))
                          .Plus(token_type_embeddings.Forward(tokenTypeIds, lora)));
}
