using System.Diagnostics;
using InferServer.AdapterStore.Configuration;
using InferServer.Benchmarks.Engine;
using InferServer.Engine;
using InferServer.Engine.Composition;
using InferServer.Kernels.Sampling;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferServer.Benchmarks.Invariant;

/// <summary>
/// What Engine:BatchInvariant costs (issue 28): decode throughput of seeded sampled requests, request i on adapter i, with
/// the mode on against off, two engines over the same model held side by side and measured one after the other within each
/// round (the order alternating), so each round's ratio sees the same machine; the median of the paired ratios is reported.
/// Prints <c>batch-invariant throughput on/off=X</c>; never asserts on time.
/// </summary>
public static class BatchInvariantBenchmark
{
    private const int DeviceSlots = 64;

    public static int Run(EngineBenchmarkOptions options)
    {
        var (model, adapters, vocabulary) = EngineBenchmark.PrepareModel(options);
        var concurrency = options.Concurrency.Max();
        Console.WriteLine($"# batch-invariant benchmark: model {options.Model}, {concurrency} concurrent on distinct adapters, "
                          + $"{options.PromptTokens}-token prompts, {options.NewTokens} sampled tokens (seeded), {options.Repeats} paired rounds");
        var off = Start(model, adapters, options, batchInvariant: false);
        var on = Start(model, adapters, options, batchInvariant: true);
        try
        {
            Measure(off, concurrency, vocabulary, options, round: -1);
            Measure(on, concurrency, vocabulary, options, round: -1);
            var ratios = new List<double>();
            for (var round = 0; round < options.Repeats; round++)
            {
                // Alternate which engine goes first, so a machine that slows down during a round does not favour one side.
                double offRate, onRate;
                if (round % 2 == 0)
                {
                    offRate = Measure(off, concurrency, vocabulary, options, round);
                    onRate = Measure(on, concurrency, vocabulary, options, round);
                }
                else
                {
                    onRate = Measure(on, concurrency, vocabulary, options, round);
                    offRate = Measure(off, concurrency, vocabulary, options, round);
                }

                ratios.Add(onRate / offRate);
                Console.WriteLine($"  round {round}: off {offRate:F1} tok/s, on {onRate:F1} tok/s, on/off {onRate / offRate:F2}");
            }

            Console.WriteLine($"batch-invariant throughput on/off={Statistics.Median(ratios):F2}");
        }
        finally
        {
            on.DisposeAsync().AsTask().GetAwaiter().GetResult();
            off.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        return 0;
    }

    private static InferenceEngine Start(string model, string adapters, EngineBenchmarkOptions options, bool batchInvariant)
    {
        var concurrency = options.Concurrency.Max();
        var engineOptions = new EngineOptions
        {
            ModelPath = model,
            BatchInvariant = batchInvariant,
            MaxBatchRows = concurrency,
            MaxBatchTokens = Math.Max(512, concurrency * 2),
            // Two engines share the host: each gets what its requests need, not the engine benchmark's gigabyte.
            KvCacheBytes = 256L << 20,
            TorchThreads = options.Threads,
            MaxNewTokensLimit = options.NewTokens,
        };
        var adapterOptions = new AdapterStoreOptions
        {
            AdapterRoots = [adapters],
            DeviceSlots = DeviceSlots,
            MaxRank = 16,
            HostMaxAdapters = EngineBenchmark.AdapterCount + 8,
            MergeEnabled = false,
        };
        return EngineComposition.StartAsync(engineOptions, adapterOptions, NullLoggerFactory.Instance, TimeProvider.System)
            .GetAwaiter().GetResult().Engine;
    }

    /// <summary>Tokens per second of <paramref name="concurrency"/> seeded sampled requests, request i on adapter i.</summary>
    private static double Measure(InferenceEngine engine, int concurrency, int vocabulary, EngineBenchmarkOptions options, int round)
    {
        var requests = Enumerable.Range(0, concurrency).Select(i =>
        {
            var greedy = EngineBenchmark.Request(EngineBenchmark.Adapter(i % DeviceSlots), vocabulary, options, round * 1000 + i, options.NewTokens);
            return greedy with { Sampling = new SamplingParameters { Temperature = 0.8, TopP = 0.95, Seed = (ulong)(round * 1000 + i + 1) } };
        }).ToArray();
        var clock = Stopwatch.StartNew();
        var tokens = Task.WhenAll(requests.Select(r => EngineBenchmark.Drain(engine, r))).GetAwaiter().GetResult().Sum();
        return tokens / clock.Elapsed.TotalSeconds;
    }
}
