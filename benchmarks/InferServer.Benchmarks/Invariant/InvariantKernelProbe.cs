using InferServer.Benchmarks.Peer;
using InferServer.Benchmarks.Profile;
using InferServer.Kernels;
using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using static TorchSharp.torch;

namespace InferServer.Benchmarks.Invariant;

/// <summary>
/// The batch-invariant mode's kernels on the large model's shapes (issue 28), each beside what it replaced or the default
/// path's kernel: the LoRA delta on q_proj for distinct rank-16 adapters (one padded product per adapter, as the mode did
/// before, against the blocked <c>bmm</c> it does now), attention over a 20-token context (one call per row, as before,
/// against one call per row without repeating the keys per query head), and one row through each base projection (the mode's 4-row padded GEMM
/// against the default path's <c>mv</c> and <c>linear</c>), plus whether the alternative orientation <c>(W·Xᵀ)ᵀ</c> would
/// round a row the same in every batch. Prints milliseconds (medians); never asserts.
/// </summary>
public static class InvariantKernelProbe
{
    private const int Hidden = 2048, Intermediate = 5632, Heads = 16, KvHeads = 4, HeadDim = 128, Vocabulary = 32000, Rank = 16;
    private const int Context = 20;

    /// <summary>Runs the probe; <paramref name="args"/>: [ROWS=1,8,64] [ITERATIONS=20].</summary>
    public static int Run(string[] args)
    {
        var rowsList = args.Length > 0 ? args[0].Split(',').Select(int.Parse).ToArray() : [1, 8, 64];
        var iterations = args.Length > 1 ? int.Parse(args[1]) : 20;
        Console.WriteLine($"# batch-invariant kernel probe, large model shapes, {get_num_threads()} torch threads, load average {PeerBenchmark.LoadAverage()}");
        var generator = new Generator(7);
        using var pool = new LoraSlotPool(65, Rank, Hidden, Hidden, ScalarType.Float32, CPU);
        for (var slot = 1; slot < pool.Slots; slot++)
        {
            using var scope = NewDisposeScope();
            pool.Write(slot, randn([Rank, Hidden], generator: generator) * 0.02, randn([Hidden, Rank], generator: generator) * 0.02, 2.0);
        }

        Console.WriteLine("| rows | LoRA q: per-adapter padded mm (before) | LoRA q: blocked bmm (now) | attention: per row (before) | attention: per row, fresh gathers, GQA as query rows (now) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|");
        foreach (var rows in rowsList)
        {
            using var scope = NewDisposeScope();
            var x = randn([rows, Hidden], generator: generator);
            var y = zeros(rows, Hidden);
            using var batch = LoraBatch.Create(Enumerable.Range(1, rows).Select(r => 1 + (r - 1) % 64).ToArray(), CPU);
            var before = DecodeStepProfile.Median(iterations, () => PerAdapterDelta(y, x, pool, batch));
            var now = DecodeStepProfile.Median(iterations, () => BatchInvariantLora.AddDelta(y, x, pool, batch));
            var (before2, now2) = Attention(rows, iterations, generator);
            Console.WriteLine($"| {rows} | {Ms(before)} | {Ms(now)} | {Ms(before2)} | {Ms(now2)} |");
        }

        Console.WriteLine();
        Console.WriteLine("| in→out | mv, one row (default path) | linear, M = 1 | padded to 4 rows (the mode), M = 1 | (W·Xᵀ)ᵀ, M = 1 | (W·Xᵀ)ᵀ, M = 4 | linear, M = 64 | (W·Xᵀ)ᵀ, M = 64 |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (inFeatures, outFeatures) in new[] { (Hidden, Hidden), (Hidden, Intermediate), (Intermediate, Hidden), (Hidden, Vocabulary) })
        {
            using var scope = NewDisposeScope();
            var weight = randn([outFeatures, inFeatures], generator: generator) * 0.02;
            var x64 = randn([64, inFeatures], generator: generator);
            var x = x64.narrow(0, 0, 4);
            var one = x.narrow(0, 0, 1);
            Console.WriteLine($"| {inFeatures}→{outFeatures} | {Ms(DecodeStepProfile.Median(iterations, () => weight.mv(one[0])))} "
                              + $"| {Ms(DecodeStepProfile.Median(iterations, () => nn.functional.linear(one, weight)))} "
                              + $"| {Ms(DecodeStepProfile.Median(iterations, () => BatchInvariance.Linear(one, weight, null)))} "
                              + $"| {Ms(DecodeStepProfile.Median(iterations, () => weight.mm(one.t()).t().contiguous()))} "
                              + $"| {Ms(DecodeStepProfile.Median(iterations, () => weight.mm(x.t()).t().contiguous()))} "
                              + $"| {Ms(DecodeStepProfile.Median(iterations, () => nn.functional.linear(x64, weight)))} "
                              + $"| {Ms(DecodeStepProfile.Median(iterations, () => weight.mm(x64.t()).t().contiguous()))} |");
        }

        TransposedOrientationInvariance(generator);
        Console.WriteLine($"load average at end {PeerBenchmark.LoadAverage()}");
        return 0;
    }

    /// <summary>Rows whose bits in <c>(W·Xᵀ)ᵀ</c> with M rows differ from the same row alone, for M = 1..64, 128, 1024.</summary>
    private static void TransposedOrientationInvariance(Generator generator)
    {
        using var scope = NewDisposeScope();
        var weight = randn([Intermediate, Hidden], generator: generator) * 0.02;
        var x = randn([1024, Hidden], generator: generator);
        var alone = cat(Enumerable.Range(0, 1024).Select(r => weight.mm(x.narrow(0, r, 1).t()).t()).ToArray(), 0);
        var differing = new List<string>();
        foreach (var rows in Enumerable.Range(1, 64).Append(128).Append(1024))
        {
            var batched = weight.mm(x.narrow(0, 0, rows).t()).t();
            var rowsDiffering = batched.ne(alone.narrow(0, 0, rows)).any(1).sum().item<long>();
            if (rowsDiffering > 0)
            {
                differing.Add($"M={rows}: {rowsDiffering}");
            }
        }

        Console.WriteLine($"(W·Xᵀ)ᵀ against each row alone (M = 1): {(differing.Count == 0 ? "bit-identical for every M" : string.Join(", ", differing))}");
    }

    /// <summary>The mode's attention before (one call per row) and now (one call per row, keys not repeated per query head), ms.</summary>
    private static (double Before, double Now) Attention(int rows, int iterations, Generator generator)
    {
        var cacheKeys = randn([rows * Context, KvHeads, HeadDim], generator: generator);
        var cacheValues = randn([rows * Context, KvHeads, HeadDim], generator: generator);
        var q = randn([rows, Heads, HeadDim], generator: generator);
        var spans = Enumerable.Range(0, rows)
            .Select(r => new SequenceSpan(r, 1, Context, Enumerable.Range(r * Context, Context).Select(s => (long)s).ToArray())).ToArray();
        var invariantRows = InvariantAttentionRows.Create(spans, null, CPU);
        var contexts = spans.Select(s => tensor(s.KvSlots)).ToArray();
        var rowwise = DecodeStepProfile.Median(iterations, () =>
        {
            var output = empty_like(q);
            for (var r = 0; r < rows; r++)
            {
                var keys = cacheKeys.index_select(0, contexts[r]).transpose(0, 1).repeat_interleave(Heads / KvHeads, dim: 0);
                var values = cacheValues.index_select(0, contexts[r]).transpose(0, 1).repeat_interleave(Heads / KvHeads, dim: 0);
                var query = q.narrow(0, r, 1).transpose(0, 1).clone();
                output.narrow(0, r, 1).copy_(nn.functional.scaled_dot_product_attention(query, keys, values).transpose(0, 1));
            }
        });
        var now = DecodeStepProfile.Median(iterations, () => RowwiseAttention.Causal(q, cacheKeys, cacheValues, invariantRows));
        return (rowwise, now);
    }

    /// <summary>The mode's LoRA delta before this change: one padded product per adapter.</summary>
    private static void PerAdapterDelta(Tensor y, Tensor x, LoraSlotPool pool, LoraBatch batch)
    {
        using var scope = NewDisposeScope();
        for (var i = 0; i < batch.DistinctSlots.Count; i++)
        {
            var group = batch.Group(i);
            var delta = BatchInvariance.MatMul(x.index_select(0, group.RowIndex), pool.ATransposed(group.Slot), pool.BTransposed(group.Slot));
            y.index_add_(0, group.RowIndex, delta, 1.0);
        }
    }

    private static string Ms(double seconds) => (seconds * 1000).ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
}
