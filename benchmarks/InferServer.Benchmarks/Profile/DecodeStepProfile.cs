using System.Diagnostics;
using InferServer.AdapterStore.Configuration;
using InferServer.Benchmarks.Engine;
using InferServer.Benchmarks.Peer;
using InferServer.Engine;
using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using InferServer.Kernels.Matmul;
using InferServer.Kernels.Norms;
using InferServer.Kernels.Rotary;
using InferServer.Kernels.Sampling;
using static TorchSharp.torch;

namespace InferServer.Benchmarks.Profile;

/// <summary>
/// Where a decode step of the large benchmark model goes, at 1, 8 and 64 rows: the engine's own kernels (linear
/// projections, the batched LoRA delta, paged attention, RoPE and norms and the other elementwise work, sampling) timed
/// one category at a time on the model's shapes with random weights, beside the engine's whole step measured through
/// requests (time per output token), so that what the kernels do not explain — scheduling, tensor allocation and
/// disposal, TorchSharp's per-call cost, GC — is the difference. Also: this machine's memory bandwidth (copy and read),
/// the batch-1 floor (weight bytes read per token over the read bandwidth), libtorch's BLAS, thread counts, and the
/// alternatives the issue names (fused QKV and gate/up GEMMs, pre-transposed weights). Prints markdown; never asserts.
/// </summary>
public static class DecodeStepProfile
{
    // The large model (DemoModelKind.LlamaLarge).
    private const int Hidden = 2048, Intermediate = 5632, Layers = 4, Heads = 16, KvHeads = 4, HeadDim = 128, Vocabulary = 32000, Rank = 16;
    private const int Context = 20;

    /// <summary>Runs the profile; <paramref name="args"/>: [ROWS=1,8,64] [ITERATIONS=20].</summary>
    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "linear")
        {
            return CompareLinear(args.Length > 1 ? args[1].Split(',').Select(int.Parse).ToArray() : [1, 2, 4, 8, 16],
                args.Length > 2 ? int.Parse(args[2]) : 30);
        }

        var rowsList = args.Length > 0 ? args[0].Split(',').Select(int.Parse).ToArray() : [1, 8, 64];
        var iterations = args.Length > 1 ? int.Parse(args[1]) : 20;
        Console.WriteLine($"# decode-step profile, large model shapes, {get_num_threads()} torch threads, load average {PeerBenchmark.LoadAverage()} at start");
        Bandwidth();

        var engineSteps = MeasureEngineSteps(rowsList);
        using var model = new Weights();
        Console.WriteLine();
        Console.WriteLine("| rows | linear (7/layer + lm_head) | LoRA q,v (distinct adapters) | attention | RoPE, norms, elementwise | sampling (greedy) | kernels total | engine step | rest (C#, scheduling, per-call) | engine alloc/step | gen0/1/2 GCs per 100 steps |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var rows in rowsList)
        {
            var parts = model.Profile(rows, iterations);
            var total = parts.Sum();
            var (step, allocated, gcs) = engineSteps[rows];
            Console.WriteLine($"| {rows} | {string.Join(" | ", parts.Select(Ms))} | {Ms(total)} | {Ms(step)} | {Ms(step - total)} | {allocated / 1024.0:F0} KiB | {gcs} |");
        }
        Console.WriteLine("(ms per step, median of iterations; engine step = median time per output token of the requests, c = rows, greedy, 8-token prompts)");

        Console.WriteLine();
        Console.WriteLine("| rows | q,k,v as 3 GEMMs | fused QKV | gate,up as 2 GEMMs | fused gate/up | libtorch linear(x, W) 2048→5632 | StreamingLinear 2048→5632 | x·Wᵀ pre-transposed | 1 thread: linear 2048→5632 | W·x as mv (rows = 1) | head, libtorch | head, StreamingLinear |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var rows in rowsList)
        {
            Console.WriteLine($"| {rows} | {string.Join(" | ", model.Alternatives(rows, iterations).Select(Ms))} |");
        }

        SamplingTable(rowsList, iterations);
        Console.WriteLine($"load average at end {PeerBenchmark.LoadAverage()}");
        return 0;
    }

    /// <summary>
    /// Random sampling over the large model's 32,000 logits: the candidate path (<see cref="CandidateDraw"/>) against the
    /// sort of the whole vocabulary it replaces, on a trained model's shape of distribution (a few tokens far above a long
    /// tail) and on a flat one (a random model's, where top-p's nucleus is thousands of tokens and rows fall back).
    /// </summary>
    private static void SamplingTable(int[] rowsList, int iterations)
    {
        Console.WriteLine();
        Console.WriteLine("| rows | logits | greedy | T 0.7, top-p 0.9: candidates / full sort | T 0.7, top-k 40: candidates / full sort |");
        Console.WriteLine("|---:|---|---:|---:|---:|");
        foreach (var rows in rowsList)
        {
            foreach (var shape in new[] { "peaked", "flat" })
            {
                using var scope = NewDisposeScope();
                var generator = new Generator(17);
                var noise = randn([rows, Vocabulary], generator: generator);
                var logits = shape == "flat" ? noise : noise + randn([rows, Vocabulary], generator: generator).mul_(4).clamp_min_(0).pow_(2);
                double Time(SamplingParameters parameters, bool sortWholeVocabulary) => Median(iterations, () => Sampler.Sample(logits,
                    [.. Enumerable.Range(0, rows).Select(r => new SamplingRow(parameters, new TokenHistory([1]), new SequenceRandom((ulong)r)))],
                    null, null, sortWholeVocabulary));
                var nucleus = new SamplingParameters { Temperature = 0.7, TopP = 0.9 };
                var topK = new SamplingParameters { Temperature = 0.7, TopK = 40 };
                Console.WriteLine($"| {rows} | {shape} | {Ms(Time(new SamplingParameters { Temperature = 0 }, false))} | "
                    + $"{Ms(Time(nucleus, false))} / {Ms(Time(nucleus, true))} | {Ms(Time(topK, false))} / {Ms(Time(topK, true))} |");
            }
        }
        Console.WriteLine("(ms per step, median of iterations)");
    }

    /// <summary>
    /// libtorch's linear against <see cref="StreamingLinear"/> on the large model's widest projection and its output head,
    /// in alternate blocks so that both see the same load; min and median of the calls (the min is what each reaches
    /// when it has the cores, the figure to compare on a shared machine).
    /// </summary>
    private static int CompareLinear(int[] rowsList, int iterations)
    {
        Console.WriteLine($"# libtorch linear vs StreamingLinear, {get_num_threads()} torch threads, load average {PeerBenchmark.LoadAverage()} at start");
        using var scope = NewDisposeScope();
        var shapes = new[] { ("2048→5632", randn(Intermediate, Hidden)), ("head 2048→32000", randn(Vocabulary, Hidden)) };
        Console.WriteLine("| rows | weight | libtorch min / median (ms) | StreamingLinear min / median (ms) | weight GB/s, faster of the two (min) |");
        Console.WriteLine("|---:|---|---:|---:|---:|");
        foreach (var rows in rowsList)
        {
            foreach (var (name, weight) in shapes)
            {
                var x = randn(rows, Hidden);
                var streams = StreamingLinear.Applies(x, weight, null);
                var torchTimes = new List<double>();
                var streamingTimes = new List<double>();
                // Blocks of 5 calls each, alternately: each kernel runs back to back as in a step (libtorch's OpenMP threads
                // spin for a while after each call and would take the core a StreamingLinear thread wants), both see the same load.
                for (var i = 0; i <= iterations; i++)
                {
                    using var inner = NewDisposeScope();
                    for (var call = 0; call < 5; call++)
                    {
                        var clock = Stopwatch.StartNew();
                        nn.functional.linear(x, weight);
                        torchTimes.Add(clock.Elapsed.TotalSeconds);
                    }
                    for (var call = 0; streams && call < 5; call++)
                    {
                        var clock = Stopwatch.StartNew();
                        StreamingLinear.Forward(x, weight, null);
                        streamingTimes.Add(clock.Elapsed.TotalSeconds);
                    }
                }
                // The first block of each is warm-up.
                torchTimes.RemoveRange(0, 5);
                streamingTimes.RemoveRange(0, Math.Min(5, streamingTimes.Count));
                var streaming = streams ? $"{Ms(streamingTimes.Min())} / {Ms(Statistics.Median(streamingTimes))}" : "–";
                var bytes = weight.numel() * 4.0;
                var best = streams ? Math.Min(torchTimes.Min(), streamingTimes.Min()) : torchTimes.Min();
                Console.WriteLine($"| {rows} | {name} | {Ms(torchTimes.Min())} / {Ms(Statistics.Median(torchTimes))} | {streaming} | {bytes / best / 1e9:F1} |");
            }
        }
        Console.WriteLine($"load average at end {PeerBenchmark.LoadAverage()}");
        return 0;
    }

    private static string Ms(double seconds) => $"{seconds * 1000:F2}";

    /// <summary>Median wall time in seconds of <paramref name="iterations"/> runs after one warm-up, each in its own dispose scope.</summary>
    internal static double Median(int iterations, Action action)
    {
        action();
        var times = new List<double>();
        for (var i = 0; i < iterations; i++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            action();
            times.Add(clock.Elapsed.TotalSeconds);
        }
        return Statistics.Median(times);
    }

    /// <summary>
    /// STREAM-like, over 512 MiB (far beyond the caches): torch copy (read + write), and a read-only pass in C# — a
    /// vectorised sum on every core, which is what a batch-1 GEMV is bound by (torch's sum() reduces in a cascade and
    /// measured below the copy here, so it does not bound anything).
    /// </summary>
    private static void Bandwidth()
    {
        const long elements = 128L * 1024 * 1024;
        double copy;
        using (var scope = NewDisposeScope())
        {
            var source = ones(elements);
            var destination = empty(elements);
            copy = Median(5, () => destination.copy_(source));
        }
        var data = new float[elements];
        Array.Fill(data, 1f);
        var read = Median(5, () => ReadAll(data));
        var bytes = elements * sizeof(float);
        var readBandwidth = bytes / read;
        Console.WriteLine($"memory bandwidth: copy {2.0 * bytes / copy / 1e9:F1} GB/s (torch, read + write), read {readBandwidth / 1e9:F1} GB/s "
                          + $"(C# vectorised sum on {Environment.ProcessorCount} threads)");
        // Per token a decode step reads every projection weight and the output head once; the embedding only one row.
        var weightBytes = 4.0 * (Layers * (Hidden * (double)(Heads * HeadDim) * 2 + Hidden * (double)(KvHeads * HeadDim) * 2 + 3.0 * Hidden * Intermediate)
                                 + (double)Vocabulary * Hidden);
        Console.WriteLine($"batch-1 floor: {weightBytes / 1e9:F2} GB of F32 weights per token / {readBandwidth / 1e9:F1} GB/s = "
                          + $"{weightBytes / readBandwidth * 1000:F1} ms per token ({readBandwidth / weightBytes:F1} tok/s)");
    }

    private static float ReadAll(float[] data)
    {
        var threads = Environment.ProcessorCount;
        var chunk = data.Length / threads;
        var partial = new float[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var span = data.AsSpan(t * chunk, t == threads - 1 ? data.Length - t * chunk : chunk);
            partial[t] = System.Numerics.Tensors.TensorPrimitives.Sum(span);
        });
        return partial.Sum();
    }

    /// <summary>The engine's own step at each row count: median time per output token, managed allocation and GCs per step.</summary>
    private static Dictionary<int, (double Step, double Allocated, string Gcs)> MeasureEngineSteps(int[] rowsList)
    {
        var options = new EngineBenchmarkOptions("large", rowsList, 24, 8, 1, 0, Path.Combine(Path.GetTempPath(), "inferserver-bench"));
        var (model, adapters, vocabulary) = EngineBenchmark.PrepareModel(options);
        var engine = EngineBenchmark.StartEngine(model, adapters, options, new AdapterStoreOptions { MergeEnabled = false });
        var results = new Dictionary<int, (double, double, string)>();
        try
        {
            EngineBenchmark.Warm(engine, vocabulary, options);
            foreach (var rows in rowsList)
            {
                var requests = Enumerable.Range(0, rows)
                    .Select(i => EngineBenchmark.Request(EngineBenchmark.Adapter(i % 64), vocabulary, options, 500 + i, options.NewTokens)).ToArray();
                var allocated = GC.GetTotalAllocatedBytes(precise: true);
                var collections = Enumerable.Range(0, 3).Select(GC.CollectionCount).ToArray();
                var finished = Task.WhenAll(requests.Select(r => Finish(engine, r))).GetAwaiter().GetResult();
                var steps = options.NewTokens;
                var gcs = string.Join("/", Enumerable.Range(0, 3).Select(g => $"{(GC.CollectionCount(g) - collections[g]) * 100.0 / steps:F0}"));
                var tpot = Statistics.Median(finished.Select(f => (f.Timing.Total - f.Timing.TimeToFirstToken).TotalSeconds / (f.Usage.CompletionTokens - 1)));
                results[rows] = (tpot, (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)steps, gcs);
                Console.WriteLine($"engine, {rows} rows: {tpot * 1000:F1} ms per step (load {PeerBenchmark.LoadAverage()})");
            }
        }
        finally
        {
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return results;
    }

    private static async Task<GenerationFinished> Finish(InferenceEngine engine, GenerationRequest request)
    {
        GenerationFinished? finished = null;
        await foreach (var update in engine.GenerateAsync(request))
        {
            if (update is GenerationFinished final)
            {
                finished = final;
            }
        }
        return finished!;
    }

    /// <summary>Random weights of the large model's shapes (one layer's, used for all four: the work is the same).</summary>
    private sealed class Weights : IDisposable
    {
        private readonly TorchSharp.DisposeScope scope = NewDisposeScope();
        private readonly Tensor q = randn(Heads * HeadDim, Hidden), k = randn(KvHeads * HeadDim, Hidden), v = randn(KvHeads * HeadDim, Hidden);
        private readonly Tensor o = randn(Hidden, Heads * HeadDim), gate = randn(Intermediate, Hidden), up = randn(Intermediate, Hidden);
        private readonly Tensor down = randn(Hidden, Intermediate), head = randn(Vocabulary, Hidden), norm = ones(Hidden);
        private readonly LoraSlotPool qPool = new(65, Rank, Hidden, Heads * HeadDim, ScalarType.Float32, CPU);
        private readonly LoraSlotPool vPool = new(65, Rank, Hidden, KvHeads * HeadDim, ScalarType.Float32, CPU);
        private readonly RotaryEmbedding rope = new(HeadDim, 10000, 2048, null, ScalarType.Float32, CPU);
        private readonly KvCache cache = new(Layers, 64 * Context, KvHeads, HeadDim, ScalarType.Float32, CPU);

        public Weights()
        {
            // Slot 0 is the pool's all-zero "no adapter" slot.
            for (var slot = 1; slot <= 64; slot++)
            {
                qPool.Write(slot, randn(Rank, Hidden), randn(Heads * HeadDim, Rank), 2.0);
                vPool.Write(slot, randn(Rank, Hidden), randn(KvHeads * HeadDim, Rank), 2.0);
            }
        }

        /// <summary>Seconds per step: linear, LoRA, attention, RoPE/norms/elementwise, sampling.</summary>
        public double[] Profile(int rows, int iterations)
        {
            var x = randn(rows, Hidden);
            var h = randn(rows, Intermediate);
            var attentionOut = randn(rows, Heads * HeadDim);
            var linear = Median(iterations, () =>
            {
                for (var layer = 0; layer < Layers; layer++)
                {
                    foreach (var weight in new[] { q, k, v })
                    {
                        LoraOps.BaseLinear(x, weight, null);
                    }
                    LoraOps.BaseLinear(attentionOut, o, null);
                    LoraOps.BaseLinear(x, gate, null);
                    LoraOps.BaseLinear(x, up, null);
                    LoraOps.BaseLinear(h, down, null);
                }
                LoraOps.BaseLinear(x, head, null);
            });

            var slots = Enumerable.Range(0, rows).Select(r => r % 64 + 1).ToArray();
            using var lora = LoraBatch.Create(slots, CPU);
            var yq = zeros(rows, Heads * HeadDim);
            var yv = zeros(rows, KvHeads * HeadDim);
            var loraTime = Median(iterations, () =>
            {
                for (var layer = 0; layer < Layers; layer++)
                {
                    LoraOps.AddDelta(yq, x, qPool, lora);
                    LoraOps.AddDelta(yv, x, vPool, lora);
                }
            });

            var spans = Enumerable.Range(0, rows)
                .Select(r => new SequenceSpan(r, 1, Context, Enumerable.Range(r * Context, Context).Select(s => (long)s).ToArray())).ToList();
            using var attentionScope = NewDisposeScope();
            var batch = AttentionBatch.Create(spans, null, CPU);
            var qHeads = randn(rows, Heads, HeadDim);
            var kHeads = randn(rows, KvHeads, HeadDim);
            var vHeads = randn(rows, KvHeads, HeadDim);
            var attention = Median(iterations, () =>
            {
                for (var layer = 0; layer < Layers; layer++)
                {
                    PagedAttention.Causal(qHeads, kHeads, vHeads, cache.Keys(layer), cache.Values(layer), batch);
                }
            });

            var positions = full(rows, (long)(Context - 1), ScalarType.Int64);
            var elementwise = Median(iterations, () =>
            {
                var (cos, sin) = rope.ForPositions(positions);
                for (var layer = 0; layer < Layers; layer++)
                {
                    var normed = RmsNorm.Apply(x, norm, 1e-6);
                    RotaryEmbedding.Apply(qHeads, cos, sin);
                    RotaryEmbedding.Apply(kHeads, cos, sin);
                    var residual = x + normed;
                    RmsNorm.Apply(residual, norm, 1e-6);
                    var activated = nn.functional.silu(h) * h;
                    _ = residual + activated.narrow(1, 0, Hidden);
                }
                RmsNorm.Apply(x, norm, 1e-6);
            });

            var logits = randn(rows, Vocabulary);
            var samplingRows = Enumerable.Range(0, rows)
                .Select(r => new SamplingRow(new SamplingParameters { Temperature = 0 }, new TokenHistory([1, 2, 3]), new SequenceRandom((ulong)r))).ToArray();
            var sampling = Median(iterations, () => Sampler.Sample(logits, samplingRows));
            return [linear, loraTime, attention, elementwise, sampling];
        }

        /// <summary>Seconds: 3 GEMMs vs fused QKV, 2 vs fused gate/up, linear vs pre-transposed, linear on one thread.</summary>
        public double[] Alternatives(int rows, int iterations)
        {
            using var local = NewDisposeScope();
            var x = randn(rows, Hidden);
            var qkv = cat([q, k, v], 0);
            var gateUp = cat([gate, up], 0);
            var upTransposed = up.t().contiguous();
            var separate = Median(iterations, () => { LoraOps.BaseLinear(x, q, null); LoraOps.BaseLinear(x, k, null); LoraOps.BaseLinear(x, v, null); });
            var fused = Median(iterations, () => LoraOps.BaseLinear(x, qkv, null).split([Heads * HeadDim, KvHeads * HeadDim, KvHeads * HeadDim], 1));
            var separateMlp = Median(iterations, () => { LoraOps.BaseLinear(x, gate, null); LoraOps.BaseLinear(x, up, null); });
            var fusedMlp = Median(iterations, () => LoraOps.BaseLinear(x, gateUp, null).chunk(2, 1));
            var plain = Median(iterations, () => nn.functional.linear(x, up));
            var streaming = StreamingLinear.Applies(x, up, null) ? Median(iterations, () => StreamingLinear.Forward(x, up, null)) : double.NaN;
            var headTorch = Median(iterations, () => nn.functional.linear(x, head));
            var headStreaming = StreamingLinear.Applies(x, head, null) ? Median(iterations, () => StreamingLinear.Forward(x, head, null)) : double.NaN;
            var transposed = Median(iterations, () => x.matmul(upTransposed));
            var threads = get_num_threads();
            set_num_threads(1);
            var single = Median(iterations, () => nn.functional.linear(x, up));
            set_num_threads(threads);
            var vector = x[0];
            var mv = rows == 1 ? Median(iterations, () => up.mv(vector)) : double.NaN;
            return [separate, fused, separateMlp, fusedMlp, plain, streaming, transposed, single, mv, headTorch, headStreaming];
        }

        public void Dispose()
        {
            qPool.Dispose();
            vPool.Dispose();
            rope.Dispose();
            cache.Dispose();
            scope.Dispose();
        }
    }
}
