using TorchSharp;

namespace InferServer.Kernels.Tests;

/// <summary>Proves the native libtorch bridge loads on this machine (see docs/torchsharp-on-debian12.md).</summary>
public sealed class TorchSharpRuntimeTests
{
    [Fact]
    public void MatrixProduct_RunsInLibTorch()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        var product = a.matmul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, product.data<float>().ToArray());
    }
}
