using InferServer.Kernels.Norms;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Common;

/// <summary>RMS norm with a learned scale (Llama family); the math is <see cref="RmsNorm"/>.</summary>
internal sealed class RmsNormLayer : nn.Module
{
    private readonly Parameter weight;
    private readonly double eps;

    public RmsNormLayer(long dimension, double eps, ModelLoadOptions options) : base(nameof(RmsNormLayer))
    {
        weight = options.NewParameter(dimension);
        this.eps = eps;
        RegisterComponents();
    }

    /// <summary>Normalises over the last dimension.</summary>
    public Tensor Forward(Tensor x) => RmsNorm.Apply(x, weight, eps);
}
