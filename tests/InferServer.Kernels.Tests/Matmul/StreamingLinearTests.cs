using InferServer.Kernels.Lora;
using InferServer.Kernels.Matmul;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Matmul;

/// <summary>
/// The decode-shaped linear layer against a float64 product, on the shapes that exercise its edges: rows 1 to 8 (each its
/// own register tile) and up to <see cref="StreamingLinear.MaxRows"/> (groups of 8 over blocks of weight rows), input widths that are not a multiple of the vector
/// width, output counts that are not a multiple of a tile's weight rows, enough output features to split across threads, a
/// bias, a weight that is a row range of a larger tensor, and a non-contiguous input; and the invariant the engine relies
/// on: a row's bits depend neither on the rows beside it, nor on the thread split, in the AVX-512 tiles and in the loop for
/// machines without AVX-512 alike.
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
    [InlineData(2, 15, 3, false)]
    [InlineData(4, 16, 5, true)]
    [InlineData(5, 45, 67, false)]
    [InlineData(6, 2053, 130, true)]
    [InlineData(7, 300, 1031, true)]
    [InlineData(StreamingLinear.MaxRows, 70, 90, true)]
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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EveryRow_GetsTheSameBits_WhateverTheNumberOfRowsBesideIt(bool loop)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(13);
        // 333 inputs: 20 full 16-wide steps and a tail of 13; 701 outputs: not a multiple of any tile's weight rows.
        var weight = randn([701, 333], generator: generator).mul_(0.05);
        var bias = randn([701], generator: generator);
        var batch = randn([StreamingLinear.MaxRows, 333], generator: generator);
        var alone = Enumerable.Range(0, StreamingLinear.MaxRows)
            .Select(row => StreamingLinear.ForwardAnyRows(batch.narrow(0, row, 1), weight, bias, loop: loop)).ToArray();

        for (var rows = 2; rows <= StreamingLinear.MaxRows; rows++)
        {
            var batched = StreamingLinear.ForwardAnyRows(batch.narrow(0, 0, rows), weight, bias, loop: loop);
            for (var row = 0; row < rows; row++)
            {
                Assert.True(alone[row].eq(batched.narrow(0, row, 1)).all().item<bool>(), $"row {row} of {rows} rows differs from the row alone");
            }
        }
    }

    [Fact]
    public void TheRowsPublicForwardTakes_GetTheBitsOfTheAnyRowsEntry()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(15);
        var weight = randn([300, 64], generator: generator);
        var x = randn([StreamingLinear.MaxRows, 64], generator: generator);

        Assert.True(StreamingLinear.Forward(x, weight, null).eq(StreamingLinear.ForwardAnyRows(x, weight, null)).all().item<bool>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheThreadSplit_DoesNotChangeABit(bool loop)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(16);
        var weight = randn([1000, 130], generator: generator);
        var bias = randn([1000], generator: generator);
        var x = randn([5, 130], generator: generator);
        var single = StreamingLinear.ForwardAnyRows(x, weight, bias, parts: 1, loop: loop);

        foreach (var parts in new[] { 2, 3, 7 })
        {
            Assert.True(single.eq(StreamingLinear.ForwardAnyRows(x, weight, bias, parts: parts, loop: loop)).all().item<bool>(), $"{parts} parts");
        }
    }

    [Theory]
    [InlineData(9)]
    [InlineData(17)]
    [InlineData(32)]
    [InlineData(StreamingLinear.MaxRows)]
    public void MoreRowsThanOneTile_EqualTheFloat64Product_AndEachRowItsBitsAlone(int rows)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(17);
        // 5,000 inputs: blocks of weight rows smaller than the part, so the blocking over row groups is exercised.
        var weight = randn([150, 5000], generator: generator).mul_(0.05);
        var x = randn([rows, 5000], generator: generator);
        var actual = StreamingLinear.ForwardAnyRows(x, weight, null, parts: 2);

        Assert.True(MaxDifference(actual, Float64Product(x, weight, null)) <= Tolerance);
        foreach (var row in new[] { 0, rows / 2, rows - 1 })
        {
            Assert.True(actual.narrow(0, row, 1).eq(StreamingLinear.ForwardAnyRows(x.narrow(0, row, 1), weight, null)).all().item<bool>(), $"row {row}");
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
        foreach (var rows in new[] { 1, 8, StreamingLinear.MaxRows, StreamingLinear.MaxRows + 1 })
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
