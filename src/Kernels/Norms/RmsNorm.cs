using static TorchSharp.torch;

namespace InferServer.Kernels.Norms;

/// <summary>Root-mean-square layer norm (Zhang and Sennrich 2019) as Llama, Mistral and Qwen2 use it.</summary>
public static class RmsNorm
{
    /// <summary>
    /// weight · x / sqrt(mean(x², last dim) + eps). The statistics are computed in float32 and the result is cast back
    /// to x's dtype before the weight multiply, exactly as transformers' LlamaRMSNorm does, so bfloat16 models match it.
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor weight, double eps)
    {
        var inputType = x.dtype;
        var x32 = x.to(ScalarType.Float32);
        var variance = x32.Power(2).mean([-1L], keepdim: true);
        var normalised = x32 * variance.Plus(eps).rsqrt();
        return weight * normalised.to(inputType);
    }
}
