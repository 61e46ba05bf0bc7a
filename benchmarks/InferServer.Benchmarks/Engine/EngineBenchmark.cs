using InferServer.Engine.Composition;
using System.Diagnostics;
using InferServer.AdapterStore.Configuration;
using InferServer.Kernels.Sampling;
using InferServer.Demo;
using InferServer.Engine;
using InferServer.Server.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferServer.Benchmarks.Engine;

/// <summary>
/// Decode throughput of the whole engine (scheduler, paged attention, batched LoRA, sampling) under Punica's adapter
/// popularity mixes, against base-only serving and against naive serving that runs one adapter's requests at a time.
/// All cells of one model are measured in one process, interleaved round by round, so the ratios compare like with like
/// on a shared, noisy machine: each ratio is taken within a round (cells measured one after the other) and the median of
/// those paired ratios is reported, which cancels the slow drift of a shared machine better than a ratio of two medians.
/// Prints a markdown table and the headline ratios; never asserts on time.
/// </summary>
public static class EngineBenchmark
{
    internal const int AdapterCount = 100;
    private const int DeviceSlots = 64;

    private enum Scenario { Base, OneAdapter, Distinct, Zipf, Naive, BaseBesideMerged, OneAdapterMerged }

    public static int Run(EngineBenchmarkOptions options)
    {
        var (modelDirectory, adaptersDirectory, vocabulary) = PrepareModel(options);
        Console.WriteLine($"# engine benchmark: model {options.Model} ({modelDirectory}), {options.PromptTokens}-token prompts, "
                          + $"{options.NewTokens} new tokens, concurrency {string.Join("/", options.Concurrency)}, median of {options.Repeats}");
        var results = new Dictionary<(Scenario, int), List<double>>();
        foreach (var merge in new[] { false, true })
        {
            var engine = StartEngine(modelDirectory, adaptersDirectory, options,
                new AdapterStoreOptions { MergeEnabled = merge, MergeMinShare = 0.9, MergeWindow = 32 });
            try
            {
                // The merged cell gets its own base cell on the same engine, interleaved with it, for a like-for-like ratio.
                Scenario[] scenarios = merge
                    ? [Scenario.BaseBesideMerged, Scenario.OneAdapterMerged]
                    : [Scenario.Base, Scenario.Distinct, Scenario.OneAdapter, Scenario.Zipf, Scenario.Naive];
                Warm(engine, vocabulary, options);
                foreach (var concurrency in options.Concurrency)
                    foreach (var scenario in scenarios)
                        Measure(engine, scenario, concurrency, vocabulary, options, seed: -1);
                for (var repeat = 0; repeat < options.Repeats; repeat++)
                    foreach (var concurrency in options.Concurrency)
                        foreach (var scenario in scenarios)
                        {
                            var tokensPerSecond = Measure(engine, scenario, concurrency, vocabulary, options, seed: repeat);
                            var cell = results.TryGetValue((scenario, concurrency), out var list) ? list : results[(scenario, concurrency)] = [];
                            cell.Add(tokensPerSecond);
                            Console.Error.WriteLine($"  {scenario} x{concurrency}: {tokensPerSecond:F1} tok/s");
                        }
            }
            finally
            {
                engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        PrintTable(results, options);
        return 0;
    }

    /// <summary>
    /// An engine over the benchmark model and its adapters, sized for <paramref name="options"/>' largest concurrency, with
    /// the merge policy of <paramref name="merging"/> (MergeEnabled, MergeMinShare, MergeWindow); started as the server starts it.
    /// </summary>
    internal static InferenceEngine StartEngine(string model, string adapters, EngineBenchmarkOptions options, AdapterStoreOptions merging)
    {
        var engineOptions = new EngineOptions
        {
            ModelPath = model,
            MaxBatchRows = options.Concurrency.Max(),
            MaxBatchTokens = Math.Max(512, options.Concurrency.Max() * 2),
            KvCacheBytes = 1L << 30,
            TorchThreads = options.Threads,
            MaxNewTokensLimit = options.NewTokens,
        };
        var adapterOptions = merging with
        {
            AdapterRoots = [adapters],
            DeviceSlots = DeviceSlots,
            MaxRank = 16,
            HostMaxAdapters = AdapterCount + 8,
        };
        return EngineComposition.StartAsync(engineOptions, adapterOptions, NullLoggerFactory.Instance, TimeProvider.System)
            .GetAwaiter().GetResult().Engine;
    }

    internal static (string Model, string Adapters, int Vocabulary) PrepareModel(EngineBenchmarkOptions options)
    {
        if (options.Model == "large")
        {
            var directory = Path.Combine(options.CacheRoot, "llamalarge");
            if (!DemoModelGenerator.IsComplete(directory, DemoModelKind.LlamaLarge))
                DemoModelGenerator.Write(directory, DemoModelKind.LlamaLarge);
            return (directory, Path.Combine(directory, "adapters"), 32000);
        }
        if (options.Model == "medium")
        {
            var directory = Path.Combine(options.CacheRoot, "llamamedium");
            if (!DemoModelGenerator.IsComplete(directory, DemoModelKind.LlamaMedium))
                DemoModelGenerator.Write(directory, DemoModelKind.LlamaMedium);
            var tenants = Path.Combine(directory, "adapters");
            if (!Directory.Exists(tenants) || Directory.GetDirectories(tenants).Length != AdapterCount)
                DemoModelGenerator.WriteTenantAdapters(tenants, DemoModelKind.LlamaMedium, AdapterCount, 16, ["q_proj", "v_proj"]);
            return (directory, tenants, 32000);
        }
        var demo = DemoModelGenerator.EnsureDefault(DemoModelGenerator.DefaultCacheRoot());
        var adapters = Path.Combine(options.CacheRoot, "demo-tenant-adapters");
        if (Directory.GetDirectories(Directory.CreateDirectory(adapters).FullName).Length != AdapterCount)
            DemoModelGenerator.WriteTenantAdapters(adapters, DemoModelKind.Llama, AdapterCount, 16, ["q_proj", "v_proj"]);
        return (demo, adapters, 50257);
    }

    /// <summary>Loads every adapter once (host and device) so cells measure serving, not first loads.</summary>
    internal static void Warm(InferenceEngine engine, int vocabulary, EngineBenchmarkOptions options)
    {
        var requests = Enumerable.Range(0, AdapterCount).Select(i => Request(Adapter(i), vocabulary, options, i, newTokens: 2)).ToArray();
        Task.WhenAll(requests.Select(r => Drain(engine, r))).GetAwaiter().GetResult();
    }

    private static double Measure(InferenceEngine engine, Scenario scenario, int concurrency, int vocabulary, EngineBenchmarkOptions options, int seed)
    {
        var zipf = new Random(seed * 7919 + concurrency);
        var adapters = Enumerable.Range(0, concurrency).Select(i => scenario switch
        {
            Scenario.Base or Scenario.BaseBesideMerged => null,
            Scenario.OneAdapter or Scenario.OneAdapterMerged => Adapter(0),
            Scenario.Distinct or Scenario.Naive => Adapter(i % DeviceSlots),
            Scenario.Zipf => Adapter(Zipf(zipf, AdapterCount, 1.2)),
            _ => throw new ArgumentOutOfRangeException(nameof(scenario)),
        }).ToArray();
        var requests = adapters.Select((a, i) => Request(a, vocabulary, options, seed * 1000 + i, options.NewTokens)).ToArray();
        if (scenario == Scenario.OneAdapterMerged)
            Task.WhenAll(requests.Select(r => Drain(engine, r with { MaxNewTokens = 1 }))).GetAwaiter().GetResult();

        var clock = Stopwatch.StartNew();
        long tokens;
        if (scenario == Scenario.Naive)
        {
            // One adapter's requests at a time: what a server without multi-adapter batching must do.
            tokens = 0;
            foreach (var group in requests.GroupBy(r => r.Adapter))
                tokens += Task.WhenAll(group.Select(r => Drain(engine, r))).GetAwaiter().GetResult().Sum();
        }
        else
        {
            tokens = Task.WhenAll(requests.Select(r => Drain(engine, r))).GetAwaiter().GetResult().Sum();
        }
        return tokens / clock.Elapsed.TotalSeconds;
    }

    internal static string Adapter(int index) => $"tenant-{index:D3}";

    internal static int Zipf(Random random, int n, double s)
    {
        var total = Enumerable.Range(1, n).Sum(k => 1.0 / Math.Pow(k, s));
        var target = random.NextDouble() * total;
        for (var k = 1; k <= n; k++)
            if ((target -= 1.0 / Math.Pow(k, s)) <= 0)
                return k - 1;
        return n - 1;
    }

    internal static GenerationRequest Request(string? adapter, int vocabulary, EngineBenchmarkOptions options, int seed, int newTokens)
    {
        var random = new Random(seed);
        var prompt = Enumerable.Range(0, options.PromptTokens).Select(_ => random.Next(1, Math.Min(vocabulary, 30000))).ToArray();
        return new GenerationRequest(adapter, null, prompt, newTokens, new SamplingParameters { Temperature = 0 }, [], [], IgnoreEos: true);
    }

    internal static async Task<long> Drain(InferenceEngine engine, GenerationRequest request)
    {
        long tokens = 0;
        await foreach (var update in engine.GenerateAsync(request))
            if (update is GenerationFinished finished)
                tokens = finished.Usage.CompletionTokens;
        return tokens;
    }

    private static void PrintTable(Dictionary<(Scenario, int), List<double>> results, EngineBenchmarkOptions options)
    {
        double Median(Scenario scenario, int concurrency) =>
            results.TryGetValue((scenario, concurrency), out var values) ? Statistics.Median(values) : double.NaN;
        // Cells of one round were measured minutes apart at most, so their ratio sees the same machine.
        double PairedRatio(Scenario top, Scenario bottom, int concurrency) =>
            results.TryGetValue((top, concurrency), out var tops) && results.TryGetValue((bottom, concurrency), out var bottoms)
                ? Statistics.Median(tops.Zip(bottoms, (t, b) => t / b))
                : double.NaN;
        Console.WriteLine();
        Console.WriteLine("| concurrent | (a) base | (b) one adapter | (c) distinct | (d) Zipf 1.2 / 100 | (e) naive | c/a | c/e | (a') base | (b') one adapter, merged | b'/a' |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in options.Concurrency)
        {
            var (a, b, d, z, e) = (Median(Scenario.Base, c), Median(Scenario.OneAdapter, c), Median(Scenario.Distinct, c),
                Median(Scenario.Zipf, c), Median(Scenario.Naive, c));
            var (a2, bm) = (Median(Scenario.BaseBesideMerged, c), Median(Scenario.OneAdapterMerged, c));
            Console.WriteLine($"| {c} | {a:F1} | {b:F1} | {d:F1} | {z:F1} | {e:F1} | {PairedRatio(Scenario.Distinct, Scenario.Base, c):F2} | "
                              + $"{PairedRatio(Scenario.Distinct, Scenario.Naive, c):F2} | {a2:F1} | {bm:F1} | "
                              + $"{PairedRatio(Scenario.OneAdapterMerged, Scenario.BaseBesideMerged, c):F2} |");
        }
        var top = options.Concurrency.Max();
        Console.WriteLine();
        Console.WriteLine($"engine-ratio multi/base={PairedRatio(Scenario.Distinct, Scenario.Base, top):F2} "
                          + $"multi/naive={PairedRatio(Scenario.Distinct, Scenario.Naive, top):F2}");
        Console.WriteLine("(decode tokens/s, median of the repeats; ratios are medians of the ratios within each round; (c) and (e) give each "
                          + "request the same adapter; (a') and (b') are measured interleaved on a second engine with the merge cache on)");
    }
}
