using InferServer.Kernels.Lora;
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

    /// <summary>First-token states [sequences, hidden] → pooled [sequences, hidden]; <paramref name="lora"/> has one row per sequence.</summary>
    public Tensor Forward(Tensor firstTokens, LoraBatch? lora) => dense.Forward(firstTokens, lora).tanh();
}
