using InferServer.Kernels.Activations;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Bert;

/// <summary>The feed-forward expansion: act(dense(x)).</summary>
internal sealed class BertIntermediate : nn.Module
{
    private readonly AdaptedLinear dense;
    private readonly ActivationKind activation;

    public BertIntermediate(BertConfig config, ModelLoadOptions options) : base(nameof(BertIntermediate))
    {
        dense = new AdaptedLinear(config.HiddenSize, config.IntermediateSize, true, options);
        activation = Activation.Parse(config.HiddenAct) ?? throw new ArgumentException($"hidden_act '{config.HiddenAct}' is not implemented");
        RegisterComponents();
    }

    /// <summary>x [rows, hidden] → [rows, intermediate].</summary>
    public Tensor Forward(Tensor x, LoraBatch? lora) => Activation.Apply(dense.Forward(x, lora), activation);
}
