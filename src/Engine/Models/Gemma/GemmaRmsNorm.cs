using InferServer.Kernels;
using InferServer.Engine.Models.Common;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Gemma;

/// <summary>
/// Gemma's RMSNorm (transformers' Gemma2RMSNorm / Gemma3RMSNorm): x / sqrt(mean(x²) + eps) · (1 + w), all in float32 and
/// cast back only at the end (Llama casts before the weight multiply). The stored weight is the offset from 1.
/// </summary>
internal sealed class GemmaRmsNorm : nn.Module
{
    private readonly Parameter weight;
    private readonly double eps;

    public GemmaRmsNorm(long dimension, double eps, ModelLoadOptions options) : base(nameof(GemmaRmsNorm))
    {
        weight = options.NewParameter(dimension);
        this.eps = eps;
        RegisterComponents();
    }

    /// <summary>Normalises over the last dimension.</summary>
    public Tensor Forward(Tensor x)
    {
        var x32 = x.to(ScalarType.Float32);
        var normalised = x32 * x32.Power(2).mean([-1L], keepdim: true).Plus(eps).rsqrt();
        return (normalised * weight.to(ScalarType.Float32).Plus(1.0)).to(x.dtype);
    }
}
