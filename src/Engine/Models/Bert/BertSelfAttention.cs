using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Bert;

/// <summary>Bidirectional multi-head attention (query, key, value — the modules BERT LoRA adapters usually target).</summary>
internal sealed class BertSelfAttention : nn.Module
{
    private readonly AdaptedLinear query;
    private readonly AdaptedLinear key;
    private readonly AdaptedLinear value;
    private readonly int heads;
    private readonly int headDimension;

    public BertSelfAttention(BertConfig config, ModelLoadOptions options) : base(nameof(BertSelfAttention))
    {
        heads = config.NumAttentionHeads;
        headDimension = config.HiddenSize / config.NumAttentionHeads;
        query = new AdaptedLinear(config.HiddenSize, config.HiddenSize, true, options);
        key = new AdaptedLinear(config.HiddenSize, config.HiddenSize, true, options);
        value = new AdaptedLinear(config.HiddenSize, config.HiddenSize, true, options);
        RegisterComponents();
    }

    /// <summary>x [rows, hidden] → context [rows, hidden].</summary>
    public Tensor Forward(Tensor x, EncoderAttentionLayout layout, LoraBatch? lora)
    {
        var rows = x.shape[0];
        return EncoderAttention.Bidirectional(
            query.Forward(x, lora).view(rows, heads, headDimension),
            key.Forward(x, lora).view(rows, heads, headDimension),
            value.Forward(x, lora).view(rows, heads, headDimension),
            layout);
    }
}
