using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Bert;

/// <summary>tanh(dense(hidden state of each sequence's first token, [CLS])).</summary>
internal sealed class BertPooler : nn.Module
{
    private readonly AdaptedLinear dense;

    public BertPooler(BertConfig config, ModelLoadOptions options) : base(nameof(BertPooler))
    {
        dense = new AdaptedLinear(config.HiddenSize, config.HiddenSize, true, options);
        RegisterComponents();
    }

    /// <summary>Last hidden state [rows, hidden] of <paramref name="batch"/> → pooled [sequences, hidden], from each sequence's first row.</summary>
    public Tensor Forward(Tensor lastHidden, EncoderBatch batch)
    {
        var starts = batch.Sequences.Select(s => s.Start).ToArray();
        var firstRows = tensor(Array.ConvertAll(starts, start => (long)start), device: lastHidden.device);
        // The pooler sees one row per sequence, so a LoRA on pooler.dense needs those rows' adapter slots.
        using var lora = batch.Lora?.SelectRows(starts);
        return dense.Forward(lastHidden.index_select(0, firstRows), lora).tanh();
    }
}
