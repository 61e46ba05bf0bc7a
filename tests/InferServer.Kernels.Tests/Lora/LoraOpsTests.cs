using InferServer.Kernels.Lora;
using TorchSharp;
using static InferServer.Kernels.Tests.Lora.LoraTestData;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Lora;

public sealed class LoraOpsTests
{
    private const double Float32Tolerance = 1e-5;

    [Fact]
    public void DecodeBatchWithAllDistinctAdapters_MatchesReferenceOnEveryPath()
    {
        AssertEveryPathMatchesReference(ranks: [8, 8, 8, 8, 8, 8], slots: [1, 2, 3, 4, 5, 6], hasBias: true);
    }

    [Fact]
    public void PrefillSegments_MatchReferenceOnEveryPath()
    {
        AssertEveryPathMatchesReference(ranks: [8, 8, 8], slots: [0, 0, 1, 1, 1, 1, 2, 2, 0, 3, 3, 3], hasBias: true);
    }

    [Fact]
    public void ScatteredBaseAndAdapterRows_MatchReferenceOnEveryPath()
    {
        AssertEveryPathMatchesReference(ranks: [8, 8, 8], slots: [1, 0, 2, 0, 1, 3, 0, 2, 1], hasBias: true);
    }

    [Fact]
    public void AdaptersOfRanksFourEightAndSixteenInOnePool_MatchReferenceOnEveryPath()
    {
        AssertEveryPathMatchesReference(ranks: [4, 8, 16], slots: [3, 1, 2, 0, 1, 3, 2, 2], hasBias: false);
    }

    [Fact]
    public void SlotWithMoreRowsThanTheStackTakes_BesideStackedSlots_MatchesReferenceOnEveryPath()
    {
        // Slot 1 has 6 rows, over LoraStackIndex.MaxRowsPerSlot: the stacked path runs it through the grouped loop.
        AssertEveryPathMatchesReference(ranks: [8, 4, 16], slots: [1, 1, 1, 1, 1, 1, 2, 3, 0, 2], hasBias: true);
    }

    [Fact]
    public void SlotsWithGapsBetweenThem_MatchReferenceOnEveryPath()
    {
        // Slots 2, 4, 5 of 6: the stack slices the pool over 2..5, slot 3's weights multiplying only zero padding rows.
        AssertEveryPathMatchesReference(ranks: [8, 8, 8, 8, 8, 8], slots: [5, 2, 4, 0, 2], hasBias: false);
    }

    [Fact]
    public void SlotsSpreadThinlyOverThePool_MatchReferenceOnEveryPath()
    {
        // Slots 1, 9, 15 of 15: too sparse to slice, so the stack copies just those slots' A and B.
        AssertEveryPathMatchesReference(ranks: [.. Enumerable.Repeat(8, 15)], slots: [15, 1, 9, 9, 0], hasBias: true);
    }

    [Fact]
    public void StackedSlotsDoNotLeakNonFiniteWeightsOfUnusedSlotsInTheirRange()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(15);
        using var pool = Pool(generator, 8, ScalarType.Float32, 8, 8, 8);
        // Slot 2 lies between the batch's slots 1 and 3 but no row uses it; its padding rows must not reach y.
        pool.Write(2, torch.full([8, In], float.NaN), torch.full([Out, 8], float.PositiveInfinity), 1.0);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var x = Random(generator, ScalarType.Float32, 3, In);
        int[] slots = [1, 3, 0];
        using var batch = LoraBatch.Create(slots, torch.CPU);
        var y = nn.functional.linear(x, weight);

        LoraOps.AddDelta(y, x, pool, batch, LoraKernelPath.Stacked);

        TensorAssert.Close(LoraOps.ReferenceLinear(x, weight, null, pool, slots), y, Float32Tolerance);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BiasPresentOrAbsent_MatchesReferenceOnEveryPath(bool hasBias)
    {
        AssertEveryPathMatchesReference(ranks: [8, 16], slots: [1, 2, 0, 2], hasBias);
    }

    [Fact]
    public void SlotThatDoesNotAdaptTheModule_LeavesItsRowsAtTheBaseOutput()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(11);
        using var pool = Pool(generator, 16, ScalarType.Float32, 8, 8, 8);
        pool.Clear(2); // the adapter in slot 2 adapts other modules, not this one
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var x = Random(generator, ScalarType.Float32, 6, In);
        int[] slots = [2, 1, 2, 3, 2, 0];
        // The layer's own base product (few rows stream through StreamingLinear, not libtorch's GEMM).
        var plain = LoraOps.BaseLinear(x, weight, null);
        foreach (var run in Runs())
        {
            using var batch = LoraBatch.Create(slots, torch.CPU);
            var y = run(x, weight, null, pool, batch);
            TensorAssert.Close(LoraOps.ReferenceLinear(x, weight, null, pool, slots), y, Float32Tolerance);
            foreach (var row in new[] { 0, 2, 4, 5 })
            {
                Assert.True(TensorAssert.SameBits(plain[row], y[row]), $"row {row} was changed although its slot does not adapt this module");
            }
        }
    }

    [Fact]
    public void BatchOfOnlyBaseRows_IsBitForBitTheBaseProduct()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(12);
        using var pool = Pool(generator, 8, ScalarType.Float32, 8);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var bias = Random(generator, ScalarType.Float32, Out);
        var x = Random(generator, ScalarType.Float32, 5, In);
        using var batch = LoraBatch.Create([0, 0, 0, 0, 0], torch.CPU);

        var y = LoraOps.Linear(x, weight, bias, pool, batch);

        Assert.True(TensorAssert.SameBits(LoraOps.BaseLinear(x, weight, bias), y));
    }

    [Fact]
    public void MixedBatch_GivesEachRowItsSoloOutput()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(13);
        using var pool = Pool(generator, 16, ScalarType.Float32, 4, 16, 8);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var bias = Random(generator, ScalarType.Float32, Out);
        var x = Random(generator, ScalarType.Float32, 7, In);
        int[] slots = [1, 0, 2, 3, 1, 1, 0];
        using var batch = LoraBatch.Create(slots, torch.CPU);

        var mixed = LoraOps.Linear(x, weight, bias, pool, batch);

        for (var row = 0; row < slots.Length; row++)
        {
            using var solo = LoraBatch.Create([slots[row]], torch.CPU);
            var alone = LoraOps.Linear(x.narrow(0, row, 1), weight, bias, pool, solo);
            TensorAssert.Close(alone[0], mixed[row], Float32Tolerance);
        }
    }

    [Fact]
    public void InputWithLeadingBatchAndSequenceDimensions_MatchesTheFlattenedRows()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(14);
        using var pool = Pool(generator, 8, ScalarType.Float32, 8, 8);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var x = Random(generator, ScalarType.Float32, 2, 3, In);
        int[] slots = [1, 1, 1, 2, 0, 2];
        using var batch = LoraBatch.Create(slots, torch.CPU);

        var y = LoraOps.Linear(x, weight, null, pool, batch);

        Assert.Equal(new long[] { 2, 3, Out }, y.shape);
        TensorAssert.Close(LoraOps.ReferenceLinear(x.reshape(6, In), weight, null, pool, slots), y.reshape(6, Out), Float32Tolerance);
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, 3e-2)]
    [InlineData(ScalarType.Float16, 5e-3)]
    public void HalfPrecisionPools_MatchTheReferenceWithinTheirRounding(ScalarType dtype, double tolerance)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(15);
        using var pool = Pool(generator, 16, dtype, 4, 16, 8);
        var weight = Random(generator, dtype, Out, In);
        var x = Random(generator, dtype, 8, In);
        int[] slots = [1, 2, 3, 0, 1, 1, 2, 3];
        var reference = LoraOps.ReferenceLinear(x, weight, null, pool, slots);
        foreach (var run in Runs())
        {
            using var batch = LoraBatch.Create(slots, torch.CPU);
            var y = run(x, weight, null, pool, batch);
            Assert.Equal(dtype, y.dtype);
            TensorAssert.Close(reference, y, tolerance);
        }
    }

    [Fact]
    public void InputInAnotherDtypeThanThePool_IsRefused()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(16);
        using var pool = Pool(generator, 8, ScalarType.BFloat16, 8);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var x = Random(generator, ScalarType.Float32, 2, In);
        using var batch = LoraBatch.Create([1, 1], torch.CPU);

        Assert.Throws<ArgumentException>(() => LoraOps.Linear(x, weight, null, pool, batch));
    }

    [Fact]
    public void BatchUsingASlotBeyondThePool_IsRefused()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(17);
        using var pool = Pool(generator, 8, ScalarType.Float32, 8);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var x = Random(generator, ScalarType.Float32, 2, In);
        using var batch = LoraBatch.Create([1, 2], torch.CPU);

        Assert.Throws<ArgumentException>(() => LoraOps.Linear(x, weight, null, pool, batch));
    }

    [Fact]
    public void MergedWeight_GivesTheSameOutputAsTheLoraPath()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(18);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var bias = Random(generator, ScalarType.Float32, Out);
        var a = Random(generator, ScalarType.Float32, 8, In);
        var b = Random(generator, ScalarType.Float32, Out, 8);
        var x = Random(generator, ScalarType.Float32, 5, In);
        using var pool = new LoraSlotPool(2, 8, In, Out, ScalarType.Float32, torch.CPU);
        pool.Write(1, a, b, 0.25);
        using var batch = LoraBatch.Create([1, 1, 1, 1, 1], torch.CPU);

        var merged = LoraOps.Merge(weight, a, b, 0.25);

        TensorAssert.Close(LoraOps.Linear(x, weight, bias, pool, batch), nn.functional.linear(x, merged, bias), Float32Tolerance);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Merge_LeavesTheBaseWeightBitForBitUntouched(ScalarType dtype)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(19);
        var weight = Random(generator, dtype, Out, In);
        var before = weight.clone();

        var merged = LoraOps.Merge(weight, Random(generator, dtype, 4, In), Random(generator, dtype, Out, 4), 4.0);

        Assert.True(TensorAssert.SameBits(before, weight));
        Assert.False(TensorAssert.SameBits(before, merged));
        Assert.Equal(dtype, merged.dtype);
    }

    internal delegate Tensor LinearRun(Tensor x, Tensor weight, Tensor? bias, LoraSlotPool pool, LoraBatch batch);

    /// <summary>The public entry point (whatever path it picks) and each path forced.</summary>
    internal static IEnumerable<LinearRun> Runs()
    {
        yield return LoraOps.Linear;
        foreach (var path in Enum.GetValues<LoraKernelPath>())
        {
            yield return (x, weight, bias, pool, batch) =>
            {
                var y = LoraOps.BaseLinear(x, weight, bias);
                LoraOps.ScaleDoraRows(y, bias, pool, batch);
                LoraOps.AddDelta(y, x, pool, batch, path);
                return y;
            };
        }
    }

    private static void AssertEveryPathMatchesReference(int[] ranks, int[] slots, bool hasBias)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(10);
        using var pool = Pool(generator, 16, ScalarType.Float32, ranks);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var bias = hasBias ? Random(generator, ScalarType.Float32, Out) : null;
        var x = Random(generator, ScalarType.Float32, slots.Length, In);
        var reference = LoraOps.ReferenceLinear(x, weight, bias, pool, slots);
        // The reference must itself differ from the base output, or agreeing with it would prove nothing.
        Assert.True(TensorAssert.MaxDifference(nn.functional.linear(x, weight, bias), reference) > 1e-2);
        foreach (var run in Runs())
        {
            using var batch = LoraBatch.Create(slots, torch.CPU);
            TensorAssert.Close(reference, run(x, weight, bias, pool, batch), Float32Tolerance);
        }
    }
}
