using InferServer.Kernels.Activations;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Gpt2;

/// <summary>GPT-2 feed-forward: c_proj(act(c_fc(x))).</summary>
internal sealed class Gpt2Mlp : nn.Module
{
    private readonly AdaptedLinear c_fc;
    private readonly AdaptedLinear c_proj;
    private readonly ActivationKind activation;

    public Gpt2Mlp(Gpt2Config config, ModelLoadOptions options) : base(nameof(Gpt2Mlp))
    {
        c_fc = new AdaptedLinear(config.NEmbd, config.InnerSize, true, options);
        c_proj = new AdaptedLinear(config.InnerSize, config.NEmbd, true, options);
        activation = Activation.Parse(config.ActivationFunction)
                     ?? throw new ArgumentException($"activation_function '{config.ActivationFunction}' is not implemented");
        RegisterComponents();
    }

    /// <summary>x [rows, hidden] → [rows, hidden].</summary>
    public Tensor Forward(Tensor x, LoraBatch? lora) =>
        c_proj.Forward(Activation.Apply(c_fc.Forward(x, lora), activation), lora);
}
