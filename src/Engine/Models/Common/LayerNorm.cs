using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Common;

/// <summary>Layer normalisation with weight and bias (GPT-2, BERT), (libtorch accumulates half-precision inputs in float32 itself).</summary>
public sealed class LayerNorm : nn.Module
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly double eps;

    /// <summary>Allocates weight and bias of the given width.</summary>
    public LayerNorm(long dimension, double eps, ModelLoadOptions options) : base(nameof(LayerNorm))
    {
        weight = options.NewParameter(dimension);
        bias = options.NewParameter(dimension);
        this.eps = eps;
        RegisterComponents();
    }

    /// <summary>Normalises over the last dimension.</summary>
    public Tensor Forward(Tensor x) => nn.functional.layer_norm(x, [x.shape[^1]], weight, bias, eps);
}
