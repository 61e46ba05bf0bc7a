using InferServer.Kernels.Lora;
using TorchSharp;
using static InferServer.Kernels.Tests.Lora.LoraTestData;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Lora;

/// <summary>Counts process-wide live tensors (<see cref="torch.Tensor.TotalCount"/>), so it runs alone.</summary>
[Collection(nameof(LoraTensorLeakCollection))]
public sealed class LoraTensorLeakTests
{
    [Theory]
    [InlineData(new[] { 1, 2, 3, 4 })]                // decode, all distinct
    [InlineData(new[] { 1, 1, 1, 0, 2, 2, 0, 3 })]    // prefill segments with base rows
    [InlineData(new[] { 1, 0, 2, 1, 0, 3, 2 })]       // scattered rows, one slot not adapting the module
    [InlineData(new[] { 4, 4, 4, 4, 4, 1, 2 })]       // one slot over the stack's rows per slot, beside stacked ones
    public void HundredStepsInsideDisposeScopes_LeaveNoLiveTensorsBehind(int[] slots)
    {
        var generator = new Generator(30);
        using var pool = Pool(generator, 16, ScalarType.Float32, 4, 8, 16, 8);
        pool.Clear(3);
        var weight = Random(generator, ScalarType.Float32, Out, In).DetachFromDisposeScope();
        var bias = Random(generator, ScalarType.Float32, Out).DetachFromDisposeScope();
        var x = Random(generator, ScalarType.Float32, slots.Length, In).DetachFromDisposeScope();
        var ids = torch.randint(0, In, [slots.Length], ScalarType.Int64, generator: generator).DetachFromDisposeScope();
        var doraScale = torch.rand([Out], generator: generator).add_(0.5).DetachFromDisposeScope();
        // Slot 2 becomes DoRA, so the DoRA row scaling runs too.
        using (torch.NewDisposeScope())
        {
            pool.Write(2, Random(generator, ScalarType.Float32, 8, In), Random(generator, ScalarType.Float32, Out, 8), 0.25, doraScale);
        }
        RunStep(); // first-use caches (none expected, but do not count them as a leak)
        var before = LiveTensors.Settled();

        for (var step = 0; step < 100; step++)
        {
            RunStep();
        }

        Assert.Equal(before, LiveTensors.Now);
        weight.Dispose();
        bias.Dispose();
        x.Dispose();
        ids.Dispose();
        doraScale.Dispose();

        void RunStep()
        {
            using var scope = torch.NewDisposeScope();
            using var batch = LoraBatch.Create(slots, torch.CPU);
            var y = LoraOps.Linear(x, weight, null, pool, batch);
            LoraOps.AddDelta(y, x, pool, batch, LoraKernelPath.Gathered);
            LoraOps.AddDelta(y, x, pool, batch, LoraKernelPath.Grouped);
            LoraOps.AddDelta(y, x, pool, batch, LoraKernelPath.Stacked);
            _ = LoraOps.Merge(weight, pool.A[1].narrow(0, 0, 4), pool.B[1].narrow(1, 0, 4), 1.0);
            _ = LoraOps.Linear(x, weight, bias, pool, batch);
            _ = LoraOps.MergeDora(weight, pool.A[2].narrow(0, 0, 8), pool.B[2].narrow(1, 0, 8), 1.0, doraScale);
            LoraEmbeddingOps.AddDelta(weight.t().index_select(0, ids), ids, pool, batch);
        }
    }
}
