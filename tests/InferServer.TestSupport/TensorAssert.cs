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

    /// <summary>Same dtype, shape and every bit of every element (NaNs and signed zeros included, unlike <see cref="Identical"/>).</summary>
    public static bool SameBits(torch.Tensor expected, torch.Tensor actual)
    {
        using var scope = torch.NewDisposeScope();
        return expected.dtype == actual.dtype
            && expected.shape.SequenceEqual(actual.shape)
            && expected.contiguous().bytes.SequenceEqual(actual.contiguous().bytes);
    }

    /// <summary>Largest absolute difference of two same-shaped tensors, computed in float64.</summary>
    public static double MaxDifference(torch.Tensor expected, torch.Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = torch.NewDisposeScope();
        return expected.to(torch.ScalarType.Float64).sub(actual.to(torch.ScalarType.Float64)).abs().max().item<double>();
    }

    /// <summary>Largest absolute difference of a float64 reference and a float32 result of the same length.</summary>
    public static double MaxDifference(double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        return expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
    }

    /// <summary>Same shape, no element further from <paramref name="expected"/> than <paramref name="tolerance"/>.</summary>
    public static void Close(torch.Tensor expected, torch.Tensor actual, double tolerance, string? what = null)
    {
        var worst = MaxDifference(expected, actual);
        Assert.True(worst <= tolerance, $"{what}: max abs difference {worst:E3} exceeds {tolerance:E0}");
    }

    /// <summary>As many values as the float64 reference, none further from it than <paramref name="tolerance"/>.</summary>
    public static void Close(double[] expected, float[] actual, double tolerance, string what)
    {
        var worst = MaxDifference(expected, actual);
        Assert.True(worst <= tolerance, $"{what}: max abs difference {worst:E3} exceeds {tolerance:E0}");
    }
}
