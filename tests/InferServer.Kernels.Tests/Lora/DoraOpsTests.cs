using InferServer.Kernels.Lora;
using TorchSharp;
using static InferServer.Kernels.Tests.Lora.LoraTestData;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Lora;

/// <summary>
/// DoRA rows batched with plain LoRA rows and base rows, against a float64 reference written here from the formula of PEFT's
/// <c>DoraLinearLayer</c>: <c>y = bias + m / ‖W0 + s·B·A‖ ⊙ (x·W0ᵀ + s·(x·Aᵀ)·Bᵀ)</c>, the norm per output row over the input
/// dimension.
/// </summary>
public sealed class DoraOpsTests
{
    private const double Float32Tolerance = 1e-5;

    private sealed record Adapter(Tensor A, Tensor B, double Scale, Tensor? Magnitude)
    {
        /// <summary>g = m / ‖W0 + s·B·A‖ (torch.linalg.norm(weight, dim=1)), float64.</summary>
        public Tensor? RowScale(Tensor weight) => Magnitude is null
            ? null
            : Magnitude.to(ScalarType.Float64) / (weight.to(ScalarType.Float64) + Scale * B.to(ScalarType.Float64).mm(A.to(ScalarType.Float64))).pow(2).sum(1).sqrt();
    }

    [Theory]
    [InlineData(new[] { 2, 0, 1, 2, 3, 3, 0, 2 })]       // scattered DoRA rows beside LoRA and base rows
    [InlineData(new[] { 0, 0, 2, 2, 2, 2, 1, 1, 3 })]    // prefill segments
    [InlineData(new[] { 2, 2, 2, 2 })]                   // one DoRA adapter for the whole batch
    [InlineData(new[] { 4, 1, 2, 3, 5, 0 })]             // decode: every adapter once, enough for the stacked path
    public void DoraRowsBatchedWithLoraAndBaseRows_MatchTheFormulaOnEveryPath(int[] slots)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(21);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var bias = Random(generator, ScalarType.Float32, Out);
        var adapters = Adapters(generator);
        using var pool = PoolOf(adapters, weight);
        var x = Random(generator, ScalarType.Float32, slots.Length, In);
        var expected = Formula(x, weight, bias, adapters, slots);
        // DoRA must really change its rows, or agreeing would prove nothing.
        Assert.True(TensorAssert.MaxDifference(nn.functional.linear(x, weight, bias), expected) > 1e-2);

        TensorAssert.Close(expected, LoraOps.ReferenceLinear(x, weight, bias, pool, slots), 1e-6);
        foreach (var run in LoraOpsTests.Runs())
        {
            using var batch = LoraBatch.Create(slots, torch.CPU);
            TensorAssert.Close(expected, run(x, weight, bias, pool, batch), Float32Tolerance);
        }
    }

    [Fact]
    public void MergedDoraWeight_GivesTheDoraRowOutput()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(22);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var bias = Random(generator, ScalarType.Float32, Out);
        var dora = Adapters(generator)[1];
        var x = Random(generator, ScalarType.Float32, 5, In);

        var merged = LoraOps.MergeDora(weight, dora.A, dora.B, dora.Scale, dora.RowScale(weight)!);

        TensorAssert.Close(Formula(x, weight, bias, [dora], [1, 1, 1, 1, 1]), nn.functional.linear(x, merged, bias), Float32Tolerance);
        Assert.Equal(ScalarType.Float32, merged.dtype);
    }

    [Fact]
    public void ClearingADoraSlot_LeavesNoRowScaleBehind()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(23);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var adapters = Adapters(generator);
        using var pool = PoolOf(adapters, weight);
        pool.Write(2, adapters[0].A, adapters[0].B, adapters[0].Scale); // plain LoRA over the DoRA slot
        var x = Random(generator, ScalarType.Float32, 2, In);
        using var batch = LoraBatch.Create([2, 2], torch.CPU);

        Assert.False(pool.IsDora(2));
        Assert.Equal(0, pool.RowScaleMinusOne[2].abs().max().item<float>());
        TensorAssert.Close(Formula(x, weight, null, [adapters[0]], [1, 1]), LoraOps.Linear(x, weight, null, pool, batch), Float32Tolerance);
    }

    /// <summary>Slot 1 LoRA rank 4; slot 2 DoRA rank 8; slot 3 DoRA rank 2; slots 4, 5 LoRA and DoRA again (for the stacked path).</summary>
    private static Adapter[] Adapters(Generator generator) =>
    [
        new(Random(generator, ScalarType.Float32, 4, In), Random(generator, ScalarType.Float32, Out, 4), 0.5, null),
        new(Random(generator, ScalarType.Float32, 8, In), Random(generator, ScalarType.Float32, Out, 8), 2.0, Magnitude(generator)),
        new(Random(generator, ScalarType.Float32, 2, In), Random(generator, ScalarType.Float32, Out, 2), 1.0 / Math.Sqrt(2), Magnitude(generator)),
        new(Random(generator, ScalarType.Float32, 8, In), Random(generator, ScalarType.Float32, Out, 8), 1.0, null),
        new(Random(generator, ScalarType.Float32, 4, In), Random(generator, ScalarType.Float32, Out, 4), 4.0, Magnitude(generator)),
    ];

    /// <summary>A trained magnitude: near the initial ‖W0‖ (≈ 0.8 for these weights) but not equal to it.</summary>
    private static Tensor Magnitude(Generator generator) => torch.rand([Out], generator: generator).mul_(0.6).add_(0.5);

    private static LoraSlotPool PoolOf(Adapter[] adapters, Tensor weight)
    {
        var pool = new LoraSlotPool(adapters.Length + 1, 8, In, Out, ScalarType.Float32, torch.CPU);
        using var scope = torch.NewDisposeScope();
        for (var i = 0; i < adapters.Length; i++)
        {
            pool.Write(i + 1, adapters[i].A, adapters[i].B, adapters[i].Scale, adapters[i].RowScale(weight));
        }

        return pool;
    }

    /// <summary>Row by row in float64: base, LoRA, or DoRA, by slot (adapter i in slot i + 1).</summary>
    private static Tensor Formula(Tensor x, Tensor weight, Tensor? bias, Adapter[] adapters, int[] slots)
    {
        var w = weight.to(ScalarType.Float64);
        var b = bias?.to(ScalarType.Float64) ?? torch.zeros([Out], ScalarType.Float64);
        var rows = new List<Tensor>();
        for (var row = 0; row < slots.Length; row++)
        {
            var xRow = x[row].to(ScalarType.Float64);
            var linear = w.matmul(xRow);
            if (slots[row] == 0)
            {
                rows.Add(linear + b);
                continue;
            }

            var adapter = adapters[slots[row] - 1];
            var delta = adapter.Scale * adapter.B.to(ScalarType.Float64).matmul(adapter.A.to(ScalarType.Float64).matmul(xRow));
            rows.Add(adapter.RowScale(weight) is { } g ? b + g * (linear + delta) : linear + delta + b);
        }

        return torch.stack(rows);
    }
}
