using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Bert;

/// <summary>Post-norm encoder layer: attention sublayer, then feed-forward sublayer.</summary>
internal sealed class BertLayer : nn.Module
{
    private readonly BertAttention attention;
    private readonly BertIntermediate intermediate;
    private readonly BertResidualOutput output;

    public BertLayer(BertConfig config, ModelLoadOptions options) : base(nameof(BertLayer))
    {
        attention = new BertAttention(config, options);
        intermediate = new BertIntermediate(config, options);
        output = new BertResidualOutput(config.IntermediateSize, config, options);
        RegisterComponents();
    }

    /// <summary>h [rows, hidden] → [rows, hidden].</summary>
    public Tensor Forward(Tensor h, EncoderAttentionLayout layout, LoraBatch? lora)
    {
        var attended = attention.Forward(h, layout, lora);
        return output.Forward(intermediate.Forward(attended, lora), attended, lora);
    }
}
