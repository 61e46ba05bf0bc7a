using InferServer.Kernels.Lora;
using InferServer.Kernels.Matmul;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Matmul;

/// <summary>
/// The decode-shaped linear layer against a float64 product, on the shapes that exercise its edges: rows 1 to
/// <see cref="StreamingLinear.MaxRows"/>, input widths that are not a multiple of the vector width, enough output features
/// to split across threads, a bias, a weight that is a row range of a larger tensor, and a non-contiguous input.
/// </summary>
public sealed class StreamingLinearTests
{
    private const double Tolerance = 1e-5;

    [Theory]
    [InlineData(1, 64, 48, false)]
    [InlineData(1, 2048, 1000, true)]
    [InlineData(3, 37, 130, true)]
    [InlineData(8, 100, 513, false)]
    [InlineData(8, 7, 9, true)]
    public void Forward_EqualsTheFloat64Product(int rows, int inFeatures, int outFeatures, bool withBias)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(11);
        var x = randn([rows, inFeatures], generator: generator);
        var weight = randn([outFeatures, inFeatures], generator: generator).mul_(0.05);
        var bias = withBias ? randn([outFeatures], generator: generator) : null;

        Assert.True(StreamingLinear.Applies(x, weight, bias));
        var actual = StreamingLinear.Forward(x, weight, bias);

        Assert.Equal([rows, outFeatures], actual.shape);
        Assert.True(MaxDifference(actual, Float64Product(x, weight, bias)) <= Tolerance);
    }

    [Fact]
    public void Forward_ReadsAWeightThatIsARowRangeOfALargerTensor_AndANonContiguousInput()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(12);
        // A fused [q; k; v] weight seen through one projection's rows: contiguous, with a storage offset.
        var fused = randn([300, 96], generator: generator).mul_(0.05);
        var slice = fused.narrow(0, 200, 100);
        // Every other column of a wider tensor: not contiguous.
        var x = randn([2, 192], generator: generator).narrow(1, 0, 192).view(2, 96, 2).select(2, 1);
        Assert.False(x.is_contiguous());

        var actual = StreamingLinear.Forward(x, slice, null);

        Assert.True(MaxDifference(actual, Float64Product(x, slice, null)) <= Tolerance);
    }

    [Fact]
    public void ARow_GetsTheSameBits_WhateverTheNumberOfRowsBesideIt()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(13);
        var weight = randn([700, 333], generator: generator).mul_(0.05);
        var bias = randn([700], generator: generator);
        var batch = randn([StreamingLinear.MaxRows, 333], generator: generator);
        var alone = StreamingLinear.Forward(batch.narrow(0, 0, 1), weight, bias);

        for (var rows = 2; rows <= StreamingLinear.MaxRows; rows++)
        {
            var batched = StreamingLinear.Forward(batch.narrow(0, 0, rows), weight, bias).narrow(0, 0, 1);
            Assert.True(alone.eq(batched).all().item<bool>(), $"row 0 of {rows} rows differs from row 0 alone");
        }
    }

    [Fact]
    public void Applies_OnlyToFewFloat32RowsAndAContiguousWeight()
    {
        using var scope = NewDisposeScope();
        var weight = randn(16, 32);
        Assert.True(StreamingLinear.Applies(randn(1, 32), weight, null));
        Assert.False(StreamingLinear.Applies(randn(StreamingLinear.MaxRows + 1, 32), weight, null));
        Assert.False(StreamingLinear.Applies(randn(1, 32, dtype: ScalarType.Float64), weight.to(ScalarType.Float64), null));
        Assert.False(StreamingLinear.Applies(randn(1, 2, 32), weight, null));
        Assert.False(StreamingLinear.Applies(randn(1, 16), randn(32, 16).t(), null));
        Assert.Throws<ArgumentException>(() => StreamingLinear.Forward(randn(StreamingLinear.MaxRows + 1, 32), weight, null));
    }

    [Fact]
    public void BaseLinear_TakesTheStreamingPathForFewRows_AndLibtorchsForMore_BothEqualToTheProduct()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(14);
        var weight = randn([200, 64], generator: generator).mul_(0.05);
        var bias = randn([200], generator: generator);
        foreach (var rows in new[] { 1, StreamingLinear.MaxRows, StreamingLinear.MaxRows + 1, 64 })
        {
            var x = randn([rows, 64], generator: generator);
            Assert.True(MaxDifference(LoraOps.BaseLinear(x, weight, bias), Float64Product(x, weight, bias)) <= Tolerance, $"{rows} rows");
        }
    }

    private static Tensor Float64Product(Tensor x, Tensor weight, Tensor? bias)
    {
        var product = x.to(ScalarType.Float64).mm(weight.to(ScalarType.Float64).t());
        return bias is null ? product : product.add(bias.to(ScalarType.Float64));
    }

    private static double MaxDifference(Tensor actual, Tensor expected) =>
        actual.to(ScalarType.Float64).sub(expected).abs().max().item<double>();
}
