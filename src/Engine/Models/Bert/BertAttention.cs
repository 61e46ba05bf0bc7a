using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Bert;

/// <summary>attention.self then attention.output (dense + residual + LayerNorm).</summary>
internal sealed class BertAttention : nn.Module
{
    private readonly BertSelfAttention @self;
    private readonly BertResidualOutput output;

    public BertAttention(BertConfig config, ModelLoadOptions options) : base(nameof(BertAttention))
    {
        @self = new BertSelfAttention(config, options);
        output = new BertResidualOutput(config.HiddenSize, config, options);
        RegisterComponents();
    }

    /// <summary>h [rows, hidden] → [rows, hidden].</summary>
    public Tensor Forward(Tensor h, EncoderAttentionLayout layout, LoraBatch? lora) =>
        output.Forward(@self.Forward(h, layout, lora), h, lora);
}
