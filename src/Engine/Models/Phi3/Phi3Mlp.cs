using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Phi3;

/// <summary>Phi-3's MLP (Phi3MLP): gate_up_proj's output split in halves, gate first; down(silu(gate) · up).</summary>
internal sealed class Phi3Mlp : nn.Module
{
    private readonly AdaptedLinear gate_up_proj;
    private readonly AdaptedLinear down_proj;
    private readonly int intermediate;

    public Phi3Mlp(Llama.LlamaConfig config, ModelLoadOptions options) : base(nameof(Phi3Mlp))
    {
        intermediate = config.IntermediateSize;
        gate_up_proj = new AdaptedLinear(config.HiddenSize, 2 * intermediate, false, options);
        down_proj = new AdaptedLinear(intermediate, config.HiddenSize, false, options);
        RegisterComponents();
    }

    /// <summary>x [rows, hidden] → [rows, hidden].</summary>
    public Tensor Forward(Tensor x, LoraBatch? lora)
    {
        var gateUp = gate_up_proj.Forward(x, lora);
        return down_proj.Forward(nn.functional.silu(gateUp.narrow(1, 0, intermediate)) * gateUp.narrow(1, intermediate, intermediate), lora);
    }
}
