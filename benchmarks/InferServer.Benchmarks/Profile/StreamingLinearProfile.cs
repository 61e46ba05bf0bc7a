using InferServer.Kernels.Memory;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using InferServer.Benchmarks.Peer;
using InferServer.Kernels.Matmul;
using static TorchSharp.torch;

namespace InferServer.Benchmarks.Profile;

/// <summary>
/// <c>profile stream [ROWS=1,2,4,8,12,16,24,32,48,64] [ITERATIONS=7] [--tiles R:K,…] [--fallback]</c>: <see cref="StreamingLinear"/> against
/// libtorch's linear on the 29 projections of one decode step of the large benchmark model (4 layers × q, k, v, o, gate, up,
/// down, and the output head), each its own tensor so that nothing stays in a cache between calls (0.98 GB, as the engine
/// reads per token), on 2 MiB pages as the engine's weights are. Per row count: the step's time for each (min and median of
/// the iterations, the two alternating so both see the same load), the weight bytes per second ours reaches, and
/// libtorch's time over ours per projection shape — the figure that says up to which row count StreamingLinear should take
/// the call (<see cref="StreamingLinear.MaxRows"/>). Above MaxRows ours is called through its any-rows entry. --tiles sets
/// the weight rows per register tile for a row count (StreamingLinear.TileWeights), to tune it on another machine; --fallback times the loop for machines without AVX-512.
/// </summary>
internal static class StreamingLinearProfile
{
    private const int Hidden = 2048, Intermediate = 5632, Layers = 4, QueryWidth = 16 * 128, KvWidth = 4 * 128, Vocabulary = 32000;

    private static readonly string[] ShapeNames = ["q,o 2048→2048", "k,v 2048→512", "gate,up 2048→5632", "down 5632→2048", "head 2048→32000"];

    /// <summary>Runs the comparison; prints markdown, never asserts.</summary>
    public static int Run(string[] args)
    {
        var positional = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        var rowsList = positional.Length > 0 ? positional[0].Split(',').Select(int.Parse).ToArray() : [1, 2, 4, 8, 12, 16, 24, 32, 48, 64];
        var iterations = positional.Length > 1 ? int.Parse(positional[1]) : 7;
        var tiles = Array.IndexOf(args, "--tiles");
        if (tiles >= 0)
        {
            foreach (var pair in args[tiles + 1].Split(','))
            {
                var parts = pair.Split(':');
                StreamingLinear.TileWeights[int.Parse(parts[0])] = int.Parse(parts[1]);
            }
        }

        var loop = args.Contains("--fallback");
        Console.WriteLine($"# StreamingLinear{(loop ? " (fallback loop, as without AVX-512)" : "")} vs libtorch linear, the large model's 29 projections (distinct weights), {get_num_threads()} torch threads, "
                          + $"load average {PeerBenchmark.LoadAverage()} at start");
        using var scope = NewDisposeScope();
        var generator = new Generator(29);
        var weights = new List<(int Shape, Tensor Weight)>();
        for (var layer = 0; layer < Layers; layer++)
        {
            weights.Add((0, randn([QueryWidth, Hidden], generator: generator)));
            weights.Add((1, randn([KvWidth, Hidden], generator: generator)));
            weights.Add((1, randn([KvWidth, Hidden], generator: generator)));
            weights.Add((0, randn([Hidden, QueryWidth], generator: generator)));
            weights.Add((2, randn([Intermediate, Hidden], generator: generator)));
            weights.Add((2, randn([Intermediate, Hidden], generator: generator)));
            weights.Add((3, randn([Hidden, Intermediate], generator: generator)));
        }
        weights.Add((4, randn([Vocabulary, Hidden], generator: generator)));
        var totalBytes = weights.Sum(w => w.Weight.NumberOfElements * sizeof(float));
        Console.WriteLine($"weights {totalBytes / 1e9:F2} GB; {CollapseToHugePages(weights.Select(w => w.Weight))}; tile weight rows by row count "
                          + string.Join(" ", Enumerable.Range(1, 8).Select(r => $"{r}:{StreamingLinear.TileWeights[r]}")));
        Console.WriteLine();
        Console.WriteLine($"| rows | StreamingLinear step min / median (ms) | weights GB/s (min) | libtorch step min / median (ms) | libtorch / ours, whole step (min) | libtorch / ours by shape: {string.Join(", ", ShapeNames)} (median) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---|");
        foreach (var rows in rowsList)
        {
            var inputs = new Dictionary<long, Tensor> { [Hidden] = randn([rows, Hidden], generator: generator), [Intermediate] = randn([rows, Intermediate], generator: generator) };
            var ours = new List<double[]>();
            var theirs = new List<double[]>();
            for (var iteration = -1; iteration < iterations; iteration++)
            {
                var streaming = Step(weights, inputs, (x, w) => StreamingLinear.ForwardAnyRows(x, w, null, loop: loop));
                var torch = Step(weights, inputs, (x, w) => nn.functional.linear(x, w));
                if (iteration >= 0)
                {
                    ours.Add(streaming);
                    theirs.Add(torch);
                }
            }

            var oursSteps = ours.Select(s => s.Sum()).ToArray();
            var theirSteps = theirs.Select(s => s.Sum()).ToArray();
            var byShape = Enumerable.Range(0, ShapeNames.Length)
                .Select(shape => Statistics.Median(theirs.Select(s => s[shape])) / Statistics.Median(ours.Select(s => s[shape])));
            Console.WriteLine($"| {rows} | {Ms(oursSteps.Min())} / {Ms(Statistics.Median(oursSteps))} | {totalBytes / oursSteps.Min() / 1e9:F1} | "
                              + $"{Ms(theirSteps.Min())} / {Ms(Statistics.Median(theirSteps))} | {theirSteps.Min() / oursSteps.Min():F2} | "
                              + $"{string.Join(", ", byShape.Select(r => r.ToString("F2")))} |");
        }

        Console.WriteLine($"(MaxRows today: {StreamingLinear.MaxRows}; load average at end {PeerBenchmark.LoadAverage()})");
        return 0;
    }

    /// <summary>Seconds per projection shape for one decode step's 29 calls.</summary>
    private static double[] Step(List<(int Shape, Tensor Weight)> weights, Dictionary<long, Tensor> inputs, Func<Tensor, Tensor, Tensor> linear)
    {
        var seconds = new double[ShapeNames.Length];
        foreach (var (shape, weight) in weights)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            linear(inputs[weight.shape[1]], weight);
            seconds[shape] += clock.Elapsed.TotalSeconds;
        }

        return seconds;
    }

    private static string Ms(double seconds) => $"{seconds * 1000:F2}";

    /// <summary>The weights onto 2 MiB pages, as the engine's composition does (<see cref="HugePages.Back"/>).</summary>
    private static string CollapseToHugePages(IEnumerable<Tensor> tensors)
    {
        var clock = Stopwatch.StartNew();
        var placement = HugePages.Back(tensors);
        return $"2 MiB pages: {placement.HugeBytes >> 20} of {placement.CandidateBytes >> 20} MiB in {clock.ElapsedMilliseconds} ms"
               + (placement.Failure is { } failure ? $" ({failure})" : "");
    }
}
