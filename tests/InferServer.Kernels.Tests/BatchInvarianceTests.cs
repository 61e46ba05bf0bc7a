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

    public static TheoryData<long, long> DeltaShapes => new() { { In, Out }, { 32, 64 }, { 32, 16 }, { 64, 32 }, { 2048, 2048 }, { 2048, 512 } };

    /// <summary>Row counts of the LoRA delta checks: every blocking of 4 rows, across and beyond a decode step, up to a long prefill.</summary>
    private static readonly int[] DeltaRowCounts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 127, 128, 129, 255, 500, 1024];

    [Theory]
    [MemberData(nameof(DeltaShapes))]
    public void LoraDelta_InTheMode_GivesARowItsAloneBits_From1To1024Rows_OnAnyMixOfAdapters(long inFeatures, long outFeatures)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(41);
        // Ranks 2-16 under a max rank of 16, so the mode's per-rank blocks see several ranks in one step.
        int[] ranks = [4, 16, 8, 16, 2, 16, 12];
        using var pool = new LoraSlotPool(ranks.Length + 1, 16, inFeatures, outFeatures, ScalarType.Float32, CPU);
        for (var slot = 1; slot <= ranks.Length; slot++)
        {
            pool.Write(slot, Random(generator, ScalarType.Float32, ranks[slot - 1], inFeatures),
                Random(generator, ScalarType.Float32, outFeatures, ranks[slot - 1]), 2.0 / ranks[slot - 1]);
        }

        var random = new Random(8);
        foreach (var targetSlot in new[] { 2, 5 })
        {
            var target = Random(generator, ScalarType.Float32, 1, inFeatures);
            var alone = Delta(target, pool, [targetSlot]);
            foreach (var rows in DeltaRowCounts)
            {
                // Mixed: any adapter (slot 0 = none) per row; same: every row on the target's adapter, so its rows span many blocks.
                foreach (var mixed in new[] { true, false })
                {
                    var place = random.Next(rows);
                    var slots = Enumerable.Range(0, rows).Select(_ => mixed ? random.Next(0, (int)pool.Slots) : targetSlot).ToArray();
                    slots[place] = targetSlot;
                    var x = Random(generator, ScalarType.Float32, rows, inFeatures);
                    x[place] = target[0];
                    var y = Delta(x, pool, slots);
                    Assert.True(Same(y[place], alone[0]), $"{inFeatures}→{outFeatures}, {rows} rows ({(mixed ? "mixed" : "one adapter")}), target on slot {targetSlot} at {place}");
                }
            }
        }
    }

    [Fact]
    public void LoraDelta_OutsideTheMode_RoundsSomeRowDifferentlyInABatch_SoTheCheckAboveCanFail()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(43);
        using var pool = new LoraSlotPool(9, 16, 2048, 2048, ScalarType.Float32, CPU);
        for (var slot = 1; slot < pool.Slots; slot++)
        {
            pool.Write(slot, Random(generator, ScalarType.Float32, 16, 2048), Random(generator, ScalarType.Float32, 2048, 16), 0.125);
        }

        var x = Random(generator, ScalarType.Float32, 64, 2048);
        var slots = Enumerable.Range(0, 64).Select(r => 1 + r % 8).ToArray();
        var batched = zeros(64, 2048);
        using (var batch = LoraBatch.Create(slots, CPU))
        {
            LoraOps.AddDelta(batched, x, pool, batch);
        }

        var differing = Enumerable.Range(0, 64).Count(row =>
        {
            var alone = zeros(1, 2048);
            using var batch = LoraBatch.Create([slots[row]], CPU);
            LoraOps.AddDelta(alone, x.narrow(0, row, 1), pool, batch);
            return !Same(alone[0], batched[row]);
        });
        Assert.True(differing > 0, "the default LoRA paths were expected to round some row differently alone and in a batch of 64");
    }

    [Theory]
    [InlineData(false, 16, 4, 32)]
    [InlineData(true, 16, 4, 32)]
    [InlineData(false, 4, 2, 16)]
    [InlineData(true, 4, 2, 16)]
    [InlineData(false, 4, 4, 16)]
    [InlineData(false, 16, 4, 128)]
    public void Attention_InTheMode_GivesARowItsAloneBits_AmongRowsOfTheSameContextLength(bool softCapped, int heads, int kvHeads, int dim)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(31);
        const int length = 37, slotsInCache = 4096;
        var cacheKeys = Random(generator, ScalarType.Float32, slotsInCache, kvHeads, dim);
        var cacheValues = Random(generator, ScalarType.Float32, slotsInCache, kvHeads, dim);
        var random = new Random(12);
        long[] Context(int count) => [.. Enumerable.Range(0, slotsInCache).OrderBy(_ => random.Next()).Take(count).Select(s => (long)s)];
        var targetSlots = Context(length);
        var targetQuery = Random(generator, ScalarType.Float32, 1, heads, dim);
        using var invariance = BatchInvariance.Enter(true);
        var alone = Attend([new SequenceSpan(0, 1, length, targetSlots)], targetQuery);

        foreach (var companions in new[] { 1, 6, 7, 8, 62, 63, 64 })
        {
            // Decode rows at the target's context length (they share its call), beside a prefill chunk whose rows cover it too.
            var place = random.Next(companions + 1);
            var spans = new List<SequenceSpan>();
            var queries = new List<Tensor>();
            var row = 0;
            for (var i = 0; i <= companions; i++)
            {
                if (i == place)
                {
                    spans.Add(new SequenceSpan(row++, 1, length, targetSlots));
                    queries.Add(targetQuery);
                }
                else if (i == companions / 2)
                {
                    spans.Add(new SequenceSpan(row, 9, length + 4, Context(length + 4)));
                    queries.Add(Random(generator, ScalarType.Float32, 9, heads, dim));
                    row += 9;
                }
                else
                {
                    spans.Add(new SequenceSpan(row++, 1, length, Context(length)));
                    queries.Add(Random(generator, ScalarType.Float32, 1, heads, dim));
                }
            }

            var output = Attend(spans, cat(queries, 0));
            Assert.True(Same(output[spans[place].QueryStart], alone[0]), $"{companions} companions, target at {place}, soft-capped {softCapped}");
        }

        Tensor Attend(List<SequenceSpan> spans, Tensor q)
        {
            var batch = AttentionBatch.Create(spans, null, CPU);
            // The new tokens' keys and values are what the cache already holds at their slots, so writing them changes nothing.
            var k = cacheKeys.index_select(0, batch.WriteSlots);
            var v = cacheValues.index_select(0, batch.WriteSlots);
            var output = softCapped
                ? SoftCappedAttention.Causal(q, k, v, cacheKeys, cacheValues, batch, 1 / Math.Sqrt(dim), 50.0)
                : PagedAttention.Causal(q, k, v, cacheKeys, cacheValues, batch);
            return output.view(-1, heads, dim);
        }
    }

    private static Tensor Delta(Tensor x, LoraSlotPool pool, int[] slots)
    {
        var y = zeros(x.shape[0], pool.OutFeatures);
        using var batch = LoraBatch.Create(slots, CPU);
        BatchInvariantLora.AddDelta(y, x, pool, batch);
        return y;
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
