using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Bert;

/// <summary>The stack of encoder layers ("bert.encoder.layer.N").</summary>
internal sealed class BertEncoder : nn.Module
{
    private readonly ModuleList<BertLayer> layer;

    public BertEncoder(BertConfig config, ModelLoadOptions options) : base(nameof(BertEncoder))
    {
        layer = new ModuleList<BertLayer>();
        for (var i = 0; i < config.NumHiddenLayers; i++)
        {
            layer.Add(new BertLayer(config, options));
        }

        RegisterComponents();
    }

    /// <summary>h [rows, hidden] → [rows, hidden]. The attention layout is built once here and shared by every layer.</summary>
    public Tensor Forward(Tensor h, IReadOnlyList<(int Start, int Length)> sequences, LoraBatch? lora)
    {
        var layout = EncoderAttentionLayout.Create(sequences, h.device);
        foreach (var encoderLayer in layer)
        {
            h = encoderLayer.Forward(h, layout, lora);
        }

        return h;
    }
}
