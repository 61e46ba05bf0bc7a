using InferServer.Server.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Server.Models.Bert;

/// <summary>tanh(dense(hidden state of each sequence's first token, [CLS])).</summary>
public sealed class BertPooler : nn.Module
{
    private readonly AdaptedLinear dense;

    /// <summary>Allocates the projection.</summary>
    public BertPooler(BertConfig config, ModelLoadOptions options) : base(nameof(BertPooler))
    {
        dense = new AdaptedLinear(config.HiddenSize, config.HiddenSize, true, options);
        RegisterComponents();
    }

    /// <summary>Last hidden state [rows, hidden] → pooled [sequences, hidden], from each sequence's first row.</summary>
    public Tensor Forward(Tensor lastHidden, IReadOnlyList<(int Start, int Length)> sequences)
    {
        var firstRows = tensor(sequences.Select(s => (long)s.Start).ToArray(), device: lastHidden.device);
        return dense.Forward(lastHidden.index_select(0, firstRows), null).tanh();
    }
}
