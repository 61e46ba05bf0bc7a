using InferServer.Kernels.Lora;
using TorchSharp;
using static InferServer.Kernels.Tests.Lora.LoraTestData;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Lora;

public sealed class LoraSlotPoolTests
{
    [Fact]
    public void Write_PutsAAndScaledBInTheCornerAndZerosTheRest()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(20);
        using var pool = new LoraSlotPool(3, 16, In, Out, ScalarType.Float32, torch.CPU);
        var a = Random(generator, ScalarType.Float32, 4, In);
        var b = Random(generator, ScalarType.Float32, Out, 4);

        pool.Write(2, a, b, 0.5);

        Assert.Equal(4, pool.RankOf(2));
        Assert.True(TensorAssert.SameBits(a, pool.A[2].narrow(0, 0, 4)));
        TensorAssert.Close(b * 0.5, pool.B[2].narrow(1, 0, 4), 0);
        Assert.Equal(0, pool.A[2].narrow(0, 4, 12).abs().sum().item<float>());
        Assert.Equal(0, pool.B[2].narrow(1, 4, 12).abs().sum().item<float>());
        Assert.Equal(0, pool.A[1].abs().sum().item<float>() + pool.B[1].abs().sum().item<float>());
    }

    [Fact]
    public void SmallerRankWrittenOverALargerOne_LeavesNoResidue()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(21);
        using var pool = new LoraSlotPool(2, 16, In, Out, ScalarType.Float32, torch.CPU);
        pool.Write(1, Random(generator, ScalarType.Float32, 16, In), Random(generator, ScalarType.Float32, Out, 16), 1.0);

        pool.Write(1, Random(generator, ScalarType.Float32, 4, In), Random(generator, ScalarType.Float32, Out, 4), 1.0);

        Assert.Equal(4, pool.RankOf(1));
        Assert.Equal(0, pool.A[1].narrow(0, 4, 12).abs().sum().item<float>());
        Assert.Equal(0, pool.B[1].narrow(1, 4, 12).abs().sum().item<float>());
    }

    [Fact]
    public void Clear_ReturnsTheSlotToZerosAndRankZero()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(22);
        using var pool = Pool(generator, 8, ScalarType.Float32, 8, 8);

        pool.Clear(1);

        Assert.Equal(0, pool.RankOf(1));
        Assert.Equal(0, pool.A[1].abs().sum().item<float>() + pool.B[1].abs().sum().item<float>());
        Assert.Equal(8, pool.RankOf(2));
    }

    [Fact]
    public void Write_ConvertsToThePoolDtype()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(23);
        using var pool = new LoraSlotPool(2, 8, In, Out, ScalarType.BFloat16, torch.CPU);
        var a = Random(generator, ScalarType.Float32, 8, In);

        pool.Write(1, a, Random(generator, ScalarType.Float32, Out, 8), 1.0);

        Assert.Equal(ScalarType.BFloat16, pool.A.dtype);
        Assert.True(TensorAssert.SameBits(a.to(ScalarType.BFloat16), pool.A[1]));
    }

    [Fact]
    public void SlotZeroAndOversizedAdapters_AreRefused()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(24);
        using var pool = new LoraSlotPool(2, 8, In, Out, ScalarType.Float32, torch.CPU);
        var a = Random(generator, ScalarType.Float32, 8, In);
        var b = Random(generator, ScalarType.Float32, Out, 8);

        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Write(0, a, b, 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Clear(0));
        Assert.Throws<ArgumentException>(
            () => pool.Write(1, Random(generator, ScalarType.Float32, 16, In), Random(generator, ScalarType.Float32, Out, 16), 1.0));
        Assert.Throws<ArgumentException>(() => pool.Write(1, a, Random(generator, ScalarType.Float32, Out, 4), 1.0));
        Assert.Equal(0, pool.RankOf(1));
    }

    [Fact]
    public void PoolTensors_OutliveTheDisposeScopeTheyWereBuiltIn()
    {
        LoraSlotPool pool;
        using (var scope = torch.NewDisposeScope())
        {
            pool = Pool(new Generator(25), 8, ScalarType.Float32, 8);
        }

        using (pool)
        {
            Assert.False(pool.A.IsInvalid);
            Assert.False(pool.B.IsInvalid);
            Assert.Equal(8, pool.RankOf(1));
            Assert.NotEqual(0, pool.A[1].abs().sum().item<float>());
        }
    }

    [Fact]
    public void BytesPerSlot_CountsAAndBAtThePaddedRankAndTheDoraRowScale()
    {
        using var pool = new LoraSlotPool(4, 16, 4096, 1024, ScalarType.BFloat16, torch.CPU);

        Assert.Equal((16L * 4096 + 1024L * 16 + 1024L) * 2, pool.BytesPerSlot);
    }
}
