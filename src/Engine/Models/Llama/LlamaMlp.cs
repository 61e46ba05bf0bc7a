using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Llama;

/// <summary>The gated feed-forward block: down(silu(gate(x)) · up(x)).</summary>
internal sealed class LlamaMlp : nn.Module
{
    private readonly AdaptedLinear gate_proj;
    private readonly AdaptedLinear up_proj;
    private readonly AdaptedLinear down_proj;

    public LlamaMlp(LlamaConfig config, ModelLoadOptions options) : base(nameof(LlamaMlp))
    {
        gate_proj = new AdaptedLinear(config.HiddenSize, config.IntermediateSize, config.MlpProjectionBias, options);
        up_proj = new AdaptedLinear(config.HiddenSize, config.IntermediateSize, config.MlpProjectionBias, options);
        down_proj = new AdaptedLinear(config.IntermediateSize, config.HiddenSize, config.MlpProjectionBias, options);
        RegisterComponents();
    }

    /// <summary>x [rows, hidden] → [rows, hidden].</summary>
    public Tensor Forward(Tensor x, LoraBatch? lora) =>
        down_proj.Forward(nn.functional.silu(gate_proj.Forward(x, lora)) * up_proj.Forward(x, lora), lora);
}
