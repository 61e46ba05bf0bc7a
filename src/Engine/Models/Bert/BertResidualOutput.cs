using InferServer.Kernels;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Bert;

/// <summary>
/// LayerNorm(dense(x) + residual): BERT's post-norm sublayer output, used both after attention (BertSelfOutput,
/// hidden → hidden) and after the feed-forward block (BertOutput, intermediate → hidden). Same keys in both places.
/// </summary>
internal sealed class BertResidualOutput : nn.Module
{
    private readonly AdaptedLinear dense;
    private readonly Common.LayerNorm LayerNorm;

    public BertResidualOutput(long inFeatures, BertConfig config, ModelLoadOptions options) : base(nameof(BertResidualOutput))
    {
        dense = new AdaptedLinear(inFeatures, config.HiddenSize, true, options);
        LayerNorm = new Common.LayerNorm(config.HiddenSize, config.LayerNormEps, options);
        RegisterComponents();
    }

    /// <summary>x [rows, in], residual [rows, hidden] → [rows, hidden].</summary>
    public Tensor Forward(Tensor x, Tensor residual, LoraBatch? lora) => LayerNorm.Forward(dense.Forward(x, lora).Plus(residual));
}
