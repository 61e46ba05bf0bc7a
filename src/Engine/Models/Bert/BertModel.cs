using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Bert;

/// <summary>
/// transformers' BertModel: embeddings, encoder, pooler. Under the "bert." prefix inside BertForSequenceClassification;
/// at the root of a headless checkpoint (sentence-transformers), where it is served as <see cref="BertTextEncoder"/>.
/// </summary>
public sealed class BertModel : nn.Module
{
    private readonly BertEmbeddings embeddings;
    private readonly BertEncoder encoder;
    private readonly BertPooler pooler;

    public BertModel(BertConfig config, ModelLoadOptions options) : base(nameof(BertModel))
    {
        embeddings = new BertEmbeddings(config, options);
        encoder = new BertEncoder(config, options);
        pooler = new BertPooler(config, options);
        RegisterComponents();
    }

    /// <summary>Last hidden state [rows, hidden].</summary>
    public Tensor Encode(EncoderBatch batch) =>
        encoder.Forward(embeddings.Forward(batch.InputIds, batch.Positions, batch.TokenTypeIds, batch.Lora), batch.Sequences, batch.Lora);

    /// <summary>Pooled output [sequences, hidden] of <see cref="Encode"/>'s result, from each sequence's first row.</summary>
    public Tensor Pool(Tensor lastHidden, EncoderBatch batch) => pooler.Forward(lastHidden, batch);
}
