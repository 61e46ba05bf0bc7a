using TorchSharp;

namespace InferServer.TestSupport;

/// <summary>Tensor comparisons that say what differs (Tensor.equal is elementwise in TorchSharp, and broadcasts).</summary>
public static class TensorAssert
{
    /// <summary>Same shape, same dtype, and every element equal: bit for bit for finite values.</summary>
    public static void Identical(torch.Tensor expected, torch.Tensor actual, string? what = null)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}]");
        Assert.Equal(expected.dtype, actual.dtype);
        using var scope = torch.NewDisposeScope();
        Assert.True(expected.eq(actual).all().item<bool>(), $"{what}: values differ");
    }
}
