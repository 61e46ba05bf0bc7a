using InferServer.Kernels.Lora;
using TorchSharp;
using static InferServer.Kernels.Tests.Lora.LoraTestData;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Lora;

/// <summary>
/// LoRA on an embedding table, batched by slot, against PEFT's formula in float64: a row with id t gains
/// <c>s · B · A[:, t]</c> (<c>lora.Embedding</c>: <c>F.embedding(x, A.T) @ B.T * scaling</c>).
/// </summary>
public sealed class LoraEmbeddingOpsTests
{
    private const long Entries = 50;

    [Theory]
    [InlineData(new[] { 1, 0, 2, 1, 2, 2, 0 })]   // scattered rows of two adapters and the base
    [InlineData(new[] { 2, 2, 2, 1, 1 })]         // prefill segments
    [InlineData(new[] { 1, 1, 1 })]               // one adapter for the whole batch
    public void EmbeddingRowsOfSeveralAdapters_GainTheirOwnDelta(int[] slots)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(31);
        var table = Random(generator, ScalarType.Float32, Entries, Out);
        (Tensor A, Tensor B, double Scale)[] adapters =
        [
            (Random(generator, ScalarType.Float32, 4, Entries), Random(generator, ScalarType.Float32, Out, 4), 2.0),
            (Random(generator, ScalarType.Float32, 8, Entries), Random(generator, ScalarType.Float32, Out, 8), 0.5),
        ];
        using var pool = new LoraSlotPool(3, 8, Entries, Out, ScalarType.Float32, torch.CPU);
        for (var i = 0; i < adapters.Length; i++)
        {
            pool.Write(i + 1, adapters[i].A, adapters[i].B, adapters[i].Scale);
        }

        var ids = torch.randint(0, Entries, [slots.Length], ScalarType.Int64, generator: generator);
        using var batch = LoraBatch.Create(slots, torch.CPU);
        var y = table.index_select(0, ids);

        LoraEmbeddingOps.AddDelta(y, ids, pool, batch);

        var expected = torch.stack(slots.Select((slot, row) =>
        {
            var id = ids[row].item<long>();
            var baseRow = table[id].to(ScalarType.Float64);
            if (slot == 0)
            {
                return baseRow;
            }

            var (a, b, scale) = adapters[slot - 1];
            return baseRow + scale * b.to(ScalarType.Float64).matmul(a.to(ScalarType.Float64)[.., id]);
        }).ToArray());
        Assert.True(TensorAssert.MaxDifference(table.index_select(0, ids), expected) > 1e-2);
        TensorAssert.Close(expected, y, 1e-6);
    }

    [Fact]
    public void MergedEmbedding_IsTheTablePlusTheDeltaOfEveryEntry()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(32);
        var table = Random(generator, ScalarType.Float32, Entries, Out);
        var a = Random(generator, ScalarType.Float32, 4, Entries);
        var b = Random(generator, ScalarType.Float32, Out, 4);

        // The table is a layer on one-hot inputs with W0 = tableᵀ [out, entries], so the linear merge applies unchanged.
        var merged = LoraOps.Merge(table.t(), a, b, 2.0).t();

        TensorAssert.Close(table.to(ScalarType.Float64) + 2.0 * b.to(ScalarType.Float64).mm(a.to(ScalarType.Float64)).t(), merged, 1e-6);
    }
}
