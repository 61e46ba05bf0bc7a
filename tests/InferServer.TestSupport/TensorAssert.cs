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

    /// <summary>As many values as the float64 reference, none further from it than <paramref name="tolerance"/>.</summary>
    public static void Close(double[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= tolerance, $"{what}: max abs difference {worst:E3} exceeds {tolerance:E0}");
    }
}
