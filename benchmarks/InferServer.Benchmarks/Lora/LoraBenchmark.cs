using System.Diagnostics;
using InferServer.Kernels.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Benchmarks.Lora;

/// <summary>
/// Multi-adapter LoRA linear against the base matmul alone, in float32 on the CPU. Every timing of a configuration is taken in the
/// same loop, the variants interleaved in a rotating order, so drift and noise on a shared machine hit them alike; medians are
/// reported. Overhead is the median over rounds of lora/base taken back to back in the same round, which cancels slow drift
/// better than a ratio of two medians. The floor is what a memory-bound step cannot avoid: it reads every distinct adapter's
/// A and B besides W0, so the overhead cannot fall below bytes(A, B of the distinct adapters) / bytes(W0).
/// </summary>
internal static class LoraBenchmark
{
    private const int WarmupRounds = 3;

    public static int Run(LoraBenchmarkOptions options)
    {
        torch.set_num_threads(options.Threads);
        using var inference = torch.inference_mode();
        Console.WriteLine($"# LoRA kernel benchmark ({(options.Quick ? "quick" : "full")})");
        Console.WriteLine();
        Console.WriteLine($"- CPU: {CpuModel()}, {Environment.ProcessorCount} cores; torch threads: {torch.get_num_threads()}");
        Console.WriteLine($"- float32, no bias; rows laid out as {(options.Scattered ? "scattered (row i uses adapter i mod D)" : "segments (rows sorted by adapter)")}");
        Console.WriteLine($"- device: {options.Device}; {(options.Quick ? "quick subset" : "full grid")}");
        Console.WriteLine("- lora = LoraOps.Linear, whose path LoraOps.ChoosePath picks; every path is also timed forced, in the same rounds");
        Console.WriteLine("- overhead = median over rounds of (lora / base) - 1; floor = bytes(A, B of the distinct adapters) / bytes(W0)");
        Console.WriteLine();
        Console.WriteLine("| rows | distinct | rank | dim | base ms | lora ms | overhead % | floor % | overhead/floor | path | gathered ms | grouped ms | stacked ms |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|");

        var device = torch.device(options.Device);
        var generator = new Generator(1234);
        foreach (var dim in new long[] { 4096, 1024 })
        {
            using var weight = torch.randn([dim, dim], generator: generator).mul_(0.02).to(device);
            var iterations = options.Iterations > 0 ? options.Iterations : dim >= 4096 ? 9 : 25;
            foreach (var (rows, distinct, rank) in Configurations(options.Quick))
            {
                var result = Measure(weight, rows, distinct, rank, iterations, options.Scattered, generator, device);
                Console.WriteLine(result.MarkdownRow());
            }
        }

        return 0;
    }

    private static IEnumerable<(int Rows, int Distinct, int Rank)> Configurations(bool quick)
    {
        int[] rowCounts = quick ? [1, 32] : [1, 8, 32, 64];
        int[] distinctCounts = quick ? [1, 4, 32] : [1, 4, 8, 32, 64];
        int[] ranks = quick ? [16] : [8, 16, 64];
        foreach (var rows in rowCounts)
        {
            foreach (var distinct in distinctCounts.Where(distinct => distinct <= rows))
            {
                foreach (var rank in ranks)
                {
                    yield return (rows, distinct, rank);
                }
            }
        }
    }

    private static LoraBenchmarkResult Measure(
        Tensor weight, int rows, int distinct, int rank, int iterations, bool scattered, Generator generator, Device device)
    {
        var dim = weight.shape[0];
        using var pool = new LoraSlotPool(distinct + 1, rank, dim, dim, ScalarType.Float32, device);
        for (var slot = 1; slot <= distinct; slot++)
        {
            using var scope = torch.NewDisposeScope();
            pool.Write(slot, torch.randn([rank, dim], generator: generator).mul_(0.02),
                torch.randn([dim, rank], generator: generator).mul_(0.02), 2.0);
        }

        var tokenSlots = new int[rows];
        for (var row = 0; row < rows; row++)
        {
            tokenSlots[row] = 1 + (scattered ? row % distinct : row * distinct / rows);
        }

        using var x = torch.randn([rows, dim], generator: generator).to(device);
        // One batch per step, shared by every module: its construction is not part of the per-module cost measured here.
        using var batch = LoraBatch.Create(tokenSlots, device);
        var chosen = LoraOps.ChoosePath(new LoraPlan(distinct, rows, rank), device.type);
        var paths = Enum.GetValues<LoraKernelPath>();
        Action[] variants =
        [
            () => nn.functional.linear(x, weight),
            () => LoraOps.Linear(x, weight, null, pool, batch),
            .. paths.Select(path => (Action)(() => LoraOps.AddDelta(nn.functional.linear(x, weight), x, pool, batch, path))),
        ];
        var samples = variants.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round < WarmupRounds + iterations; round++)
        {
            for (var k = 0; k < variants.Length; k++)
            {
                var variant = (round + k) % variants.Length; // rotate who goes first
                var elapsed = Time(variants[variant], device);
                if (round >= WarmupRounds)
                {
                    samples[variant].Add(elapsed);
                }
            }
        }

        var ratios = samples[0].Zip(samples[1], (baseMs, loraMs) => loraMs / baseMs).ToList();
        var adapterBytes = (double)distinct * pool.BytesPerSlot;
        var weightBytes = (double)dim * dim * sizeof(float);
        double PathMs(LoraKernelPath path) => Statistics.Median(samples[2 + Array.IndexOf(paths, path)]);
        return new LoraBenchmarkResult(rows, distinct, rank, dim, chosen, adapterBytes / weightBytes, Statistics.Median(ratios) - 1,
            Statistics.Median(samples[0]), Statistics.Median(samples[1]),
            PathMs(LoraKernelPath.Gathered), PathMs(LoraKernelPath.Grouped), PathMs(LoraKernelPath.Stacked));
    }

    private static double Time(Action variant, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var start = Stopwatch.GetTimestamp();
        variant();
        if (device.type == DeviceType.CUDA)
        {
            torch.cuda.synchronize(device); // kernels are asynchronous; time their completion, not their launch
        }

        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static string CpuModel()
    {
        var line = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))
            : null;
        return line?.Split(':', 2)[1].Trim() ?? "unknown CPU";
    }
}
