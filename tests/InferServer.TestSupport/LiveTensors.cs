using TorchSharp;

namespace InferServer.TestSupport;

/// <summary>
/// Process-wide live tensor wrappers (<see cref="torch.Tensor.TotalCount"/>), for the tests that count them; such tests run
/// in a collection of their own, with parallelization disabled.
/// </summary>
/// <remarks>
/// Take the baseline with <see cref="Settled"/> and the final count with <see cref="Now"/>. Settling first finalizes the
/// garbage earlier tests left (tensors they never disposed), whose finalizers would otherwise lower the count in the middle
/// of the counting test. The final count must not settle: collecting there would finalize a tensor the code under test
/// dropped without disposing before it is counted, and the leak would go unseen.
/// </remarks>
public static class LiveTensors
{
    /// <summary>The count after collecting garbage and running pending finalizers: a baseline.</summary>
    public static long Settled()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return torch.Tensor.TotalCount;
    }

    /// <summary>The count as it is, garbage included: the final count.</summary>
    public static long Now => torch.Tensor.TotalCount;
}
