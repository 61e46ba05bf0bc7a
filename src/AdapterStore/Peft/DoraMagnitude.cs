using TorchSharp;

namespace InferServer.AdapterStore.Peft;

/// <summary>
/// DoRA's per-module state (Liu et al. 2024, arXiv:2402.09353, PEFT <c>DoraLinearLayer</c>): the learned magnitude m
/// (<c>lora_magnitude_vector</c>, [out]) and the norm of the adapted weight, <c>‖W0 + s·B·A‖</c> taken per output row over
/// the input dimension. The norm depends only on the adapter and the frozen W0, so it is computed once when the adapter
/// loads (PEFT detaches it from the graph for the same reason: at inference it is a constant), in float64.
/// </summary>
/// <param name="Magnitude">m, [out], float64.</param>
/// <param name="WeightNorm">‖W0 + s·B·A‖ per output row, [out], float64.</param>
public sealed record DoraMagnitude(torch.Tensor Magnitude, torch.Tensor WeightNorm)
{
    /// <summary>g = m / ‖W0 + s·B·A‖, [out], float64: the factor on each output row. A new tensor; the caller disposes it.</summary>
    public torch.Tensor RowScale() => Magnitude / WeightNorm;
}
