using InferServer.Server.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Server.Models.Bert;

/// <summary>The encoder under the "bert." prefix: embeddings, encoder, pooler.</summary>
public sealed class BertModel : nn.Module
{
    private readonly BertEmbeddings embeddings;
    private readonly BertEncoder encoder;
    private readonly BertPooler pooler;

    /// <summary>Allocates the encoder.</summary>
    public BertModel(BertConfig config, ModelLoadOptions options) : base(nameof(BertModel))
    {
        embeddings = new BertEmbeddings(config, options);
        encoder = new BertEncoder(config, options);
        pooler = new BertPooler(config, options);
        RegisterComponents();
    }

    /// <summary>Pooled output [sequences, hidden].</summary>
    public Tensor Forward(EncoderBatch batch)
    {
        var hidden = encoder.Forward(embeddings.Forward(batch.InputIds, batch.Positions, batch.TokenTypeIds, batch.Lora), batch.Sequences, batch.Lora);
        var starts = batch.Sequences.Select(s => s.Start).ToArray();
        var firstRows = tensor(Array.ConvertAll(starts, start => (long)start), device: hidden.device);
        // The pooler sees one row per sequence, so a LoRA on pooler.dense needs those rows' adapter slots.
        using var poolerLora = batch.Lora?.SelectRows(starts);
        return pooler.Forward(hidden.index_select(0, firstRows), poolerLora);
    }
}
