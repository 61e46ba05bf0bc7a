using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Gemma;

/// <summary>GeGLU: down(gelu_tanh(gate(x)) · up(x)), no biases (Gemma2MLP, Gemma3MLP).</summary>
internal sealed class GemmaMlp : nn.Module
{
    private readonly AdaptedLinear gate_proj;
    private readonly AdaptedLinear up_proj;
    private readonly AdaptedLinear down_proj;

    public GemmaMlp(GemmaConfig config, ModelLoadOptions options) : base(nameof(GemmaMlp))
    {
        gate_proj = new AdaptedLinear(config.HiddenSize, config.IntermediateSize, false, options);
        up_proj = new AdaptedLinear(config.HiddenSize, config.IntermediateSize, false, options);
        down_proj = new AdaptedLinear(config.IntermediateSize, config.HiddenSize, false, options);
        RegisterComponents();
    }

    /// <summary>x [rows, hidden] → [rows, hidden].</summary>
    public Tensor Forward(Tensor x, LoraBatch? lora) =>
        down_proj.Forward(nn.functional.gelu(gate_proj.Forward(x, lora), TorchSharp.Modules.GELU.Approximate.tanh) * up_proj.Forward(x, lora), lora);
}
