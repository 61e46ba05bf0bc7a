using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using TorchSharp;
using static InferServer.Kernels.Tests.Lora.LoraTestData;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests;

/// <summary>
/// Batch-invariant mode at the kernel level: a row's output bits do not depend on the rows beside it, their number, their
/// adapters, the row's place, prefill chunking or the KV layout; and without the mode they do (so the mode is needed).
/// </summary>
public sealed class BatchInvarianceTests
{
    private static readonly int[] BatchSizes = [1, 2, 3, 5, 7, 8, 9, 63, 64, 65];

    [Fact]
    public void PlainLinear_RoundsARowAloneDifferentlyFromTheSameRowInABatch()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(5);
        var weight = Random(generator, ScalarType.Float32, 256, 256);
        var batch = Random(generator, ScalarType.Float32, 8, 256);

        var alone = nn.functional.linear(batch.narrow(0, 0, 1), weight);
        var batched = nn.functional.linear(batch, weight).narrow(0, 0, 1);

        Assert.False(Same(alone, batched), "libtorch's CPU GEMM was expected to round a lone row differently");
        Assert.True(alone.sub(batched).abs().max().item<float>() < 1e-5, "the difference should be rounding only");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void AdaptedLinear_InTheMode_GivesEachRowItsAloneBits_WhateverTheBatch(int targetSlot)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(17);
        var weight = Random(generator, ScalarType.Float32, Out, In);
        var bias = Random(generator, ScalarType.Float32, Out);
        using var pool = Pool(generator, 16, ScalarType.Float32, 4, 16, 8, 16, 2, 16);
        var target = Random(generator, ScalarType.Float32, 1, In);
        using var invariance = BatchInvariance.Enter(true);
        var alone = Project(target, weight, bias, pool, [targetSlot]);
        var random = new Random(3);
        foreach (var rows in BatchSizes)
        {
            foreach (var place in new[] { 0, rows / 2, rows - 1 })
            {
                var slots = Enumerable.Range(0, rows).Select(_ => random.Next(0, (int)pool.Slots)).ToArray();
                slots[place] = targetSlot;
                var x = Random(generator, ScalarType.Float32, rows, In);
                x[place] = target[0];
                var y = Project(x, weight, bias, pool, slots);
                Assert.True(Same(y[place], alone[0]), $"{rows} rows, target at {place}, slots [{string.Join(", ", slots)}]");
            }
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData(6)]
    public void Attention_InTheMode_GivesAPositionTheSameBitsWhateverTheChunkingBatchAndLayout(int? window)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(29);
        const int length = 23, heads = 4, kvHeads = 2, dim = 8;
        var q = Random(generator, ScalarType.Float32, length, heads, dim);
        var k = Random(generator, ScalarType.Float32, length, kvHeads, dim);
        var v = Random(generator, ScalarType.Float32, length, kvHeads, dim);
        var other = Random(generator, ScalarType.Float32, 3, length, kvHeads * 2 + heads, dim);
        using var invariance = BatchInvariance.Enter(true);

        // Whole prompt in one step, alone, in slots 0..22.
        var whole = new AttentionRun(q, k, v, window, Enumerable.Range(0, length).Select(p => (long)p).ToArray());
        var expected = whole.Step([(0, length)]);

        // The same sequence in scattered slots (another KV layout), in chunks of 5, 9 and 9, then position 22 recomputed as a
        // decode step, each step beside another sequence's rows.
        var scattered = Enumerable.Range(0, length).Select(p => 200L - 7 * p).ToArray();
        var chunked = new AttentionRun(q, k, v, window, scattered, other);
        var rows = new List<Tensor>();
        foreach (var (start, count) in new[] { (0, 5), (5, 9), (14, 9) })
        {
            rows.Add(chunked.Step([(start, count)], companions: 1 + start % 3));
        }

        var decode = chunked.Step([(length - 1, 1)], companions: 2);
        Assert.True(Same(cat(rows, 0), expected), "chunked prefill differs from the whole prompt");
        Assert.True(Same(decode, expected.narrow(0, length - 1, 1)), "a decode step differs from the prefill row");
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static Tensor Project(Tensor x, Tensor weight, Tensor bias, LoraSlotPool pool, int[] slots)
    {
        using var batch = LoraBatch.Create(slots, CPU);
        return LoraOps.Linear(x, weight, bias, pool, batch);
    }

    /// <summary>One sequence's q, k, v by position, attended step by step through a KV cache, beside other sequences' rows.</summary>
    private sealed class AttentionRun(Tensor q, Tensor k, Tensor v, int? window, long[] slots, Tensor? others = null)
    {
        private readonly Tensor cacheKeys = zeros(512, k.shape[1], k.shape[2]);
        private readonly Tensor cacheValues = zeros(512, v.shape[1], v.shape[2]);

        /// <summary>Runs positions [start, start + count) of the sequence, after <paramref name="companions"/> one-row decode
        /// sequences of other contexts; returns the sequence's output rows.</summary>
        public Tensor Step((int Start, int Count)[] chunk, int companions = 0)
        {
            var (start, count) = chunk[0];
            var spans = new List<SequenceSpan>();
            var qs = new List<Tensor>();
            var ks = new List<Tensor>();
            var vs = new List<Tensor>();
            var row = 0;
            for (var c = 0; c < companions; c++)
            {
                // A companion owns slots 300 + 30c.. and has a context of 4 + c tokens (its earlier keys are whatever the cache holds).
                var context = 4 + c;
                var companionSlots = Enumerable.Range(0, context).Select(p => 300L + 30 * c + p).ToArray();
                spans.Add(new SequenceSpan(row++, 1, context, companionSlots));
                var kvHeads = k.shape[1];
                qs.Add(others![c].narrow(0, context - 1, 1).narrow(1, 2 * kvHeads, q.shape[1]));
                ks.Add(others[c].narrow(0, context - 1, 1).narrow(1, 0, kvHeads));
                vs.Add(others[c].narrow(0, context - 1, 1).narrow(1, kvHeads, kvHeads));
            }

            spans.Add(new SequenceSpan(row, count, start + count, slots[..(start + count)]));
            qs.Add(q.narrow(0, start, count));
            ks.Add(k.narrow(0, start, count));
            vs.Add(v.narrow(0, start, count));
            var batch = AttentionBatch.Create(spans, window, CPU);
            var output = PagedAttention.Causal(cat(qs, 0), cat(ks, 0), cat(vs, 0), cacheKeys, cacheValues, batch);
            return output.narrow(0, row, count);
        }
    }
}
