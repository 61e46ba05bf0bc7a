using TorchSharp;

namespace InferServer.Kernels.Tests;

/// <summary>Process-wide live tensor wrappers, for the tests that count them.</summary>
internal static class LiveTensors
{
    /// <summary>
    /// The count after finalizing garbage that earlier tests left (tensors they never disposed): those finalizers would
    /// otherwise lower the count in the middle of a counting test. Take the baseline with this and the final count plainly,
    /// so that garbage made by the code under test is still seen as a leak.
    /// </summary>
    public static long Settled()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return torch.Tensor.TotalCount;
    }
}
