using System.Diagnostics;
using InferServer.AdapterStore.Configuration;
using InferServer.Benchmarks.Engine;
using InferServer.Engine;

namespace InferServer.Benchmarks.Merge;

/// <summary>
/// The merge cache on against off, under every popularity mix Punica compares (distinct, uniform, Zipf 1.2, Zipf 2, one
/// adapter), on two engines alive side by side: the same requests go to one and then the other (order alternating by
/// round), and each cell's on/off ratio is the median of the ratios within rounds, as <see cref="EngineBenchmark"/> pairs
/// its cells. The merge-on engine uses the server's default policy (<see cref="AdapterStoreOptions"/>).
/// <para>
/// Steady state, not cold start: before a mix is measured both engines serve one merge window of it with one new token
/// per request, so the hotness window describes that mix, as it would after a minute of such traffic; then every round
/// of that mix runs back to back.
/// </para>
/// </summary>
public static class MergeBenchmark
{
    private enum Mix { Distinct, Uniform, Zipf12, Zipf2, One }

    public static int Run(MergeBenchmarkOptions options)
    {
        var engineOptions = options.Engine;
        var (modelDirectory, adaptersDirectory, vocabulary) = EngineBenchmark.PrepareModel(engineOptions);
        var window = new AdapterStoreOptions().MergeWindow;
        var loadAtStart = LoadAverage();
        Console.WriteLine($"# merge benchmark: model {engineOptions.Model}, {engineOptions.PromptTokens}-token prompts, {engineOptions.NewTokens} new tokens, "
                          + $"concurrency {string.Join("/", engineOptions.Concurrency)}, {options.Waves} requests per worker, {engineOptions.Repeats} rounds, "
                          + $"priming {window} requests per mix; load average {LoadAverage()}");
        var on = EngineBenchmark.StartEngine(modelDirectory, adaptersDirectory, engineOptions, new AdapterStoreOptions { MergeEnabled = true });
        var off = EngineBenchmark.StartEngine(modelDirectory, adaptersDirectory, engineOptions, new AdapterStoreOptions { MergeEnabled = false });
        var results = new List<CellResult>();
        try
        {
            EngineBenchmark.Warm(on, vocabulary, engineOptions);
            EngineBenchmark.Warm(off, vocabulary, engineOptions);
            // Mix by mix: both engines' hotness windows are primed with the mix once, then the pairs of that mix run back to
            // back (the measured traffic keeps the window in that mix), so many short pairs fit where few long ones would.
            foreach (var mix in Enum.GetValues<Mix>())
            {
                var primingSeed = 17 + (int)mix;
                Prime(on, Adapters(mix, window, primingSeed), vocabulary, engineOptions, primingSeed);
                Prime(off, Adapters(mix, window, primingSeed), vocabulary, engineOptions, primingSeed);
                Console.Error.WriteLine($"{mix} (load average {LoadAverage()})");
                for (var round = -1; round < engineOptions.Repeats; round++)
                    foreach (var concurrency in engineOptions.Concurrency)
                    {
                        var seed = Math.Max(round, 0) * 7919 + concurrency * 31 + (int)mix;
                        var adapters = Adapters(mix, concurrency * options.Waves, seed);
                        // Alternate which engine goes first, so drift within a pair does not favour one side.
                        var onFirst = round % 2 == 0;
                        var first = Measure(onFirst ? on : off, adapters, concurrency, vocabulary, engineOptions, seed);
                        var second = Measure(onFirst ? off : on, adapters, concurrency, vocabulary, engineOptions, seed);
                        var (withMerge, without) = onFirst ? (first, second) : (second, first);
                        Console.Error.WriteLine($"  round {round} x{concurrency}: on {withMerge.TokensPerSecond:F1} off {without.TokensPerSecond:F1} tok/s, "
                                                + $"{withMerge.MergedShare:P0} of requests served merged");
                        if (round >= 0)
                            results.Add(new CellResult(mix.ToString(), concurrency, round, withMerge, without));
                    }
            }
        }
        finally
        {
            on.DisposeAsync().AsTask().GetAwaiter().GetResult();
            off.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        PrintTable(results, engineOptions);
        Console.WriteLine($"load average at the end: {LoadAverage()}");
        if (options.JsonPath is { } path)
            WriteJson(path, results, engineOptions, loadAtStart);
        return 0;
    }

    /// <summary>The adapter of each request, in arrival order.</summary>
    private static string[] Adapters(Mix mix, int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => EngineBenchmark.Adapter(mix switch
        {
            Mix.Distinct => i % EngineBenchmark.AdapterCount,
            Mix.Uniform => random.Next(EngineBenchmark.AdapterCount),
            Mix.Zipf12 => EngineBenchmark.Zipf(random, EngineBenchmark.AdapterCount, 1.2),
            Mix.Zipf2 => EngineBenchmark.Zipf(random, EngineBenchmark.AdapterCount, 2.0),
            Mix.One => 0,
            _ => throw new ArgumentOutOfRangeException(nameof(mix)),
        })).ToArray();
    }

    /// <summary>One merge window of the mix, one new token each: the hotness window then describes the mix.</summary>
    private static void Prime(InferenceEngine engine, string[] priming, int vocabulary, EngineBenchmarkOptions options, int seed)
    {
        var requests = priming.Select((adapter, i) => EngineBenchmark.Request(adapter, vocabulary, options, seed * 1000 + i, newTokens: 1));
        Task.WhenAll(requests.Select(request => EngineBenchmark.Drain(engine, request))).GetAwaiter().GetResult();
    }

    /// <summary>Serves <paramref name="adapters"/> closed-loop with <paramref name="concurrency"/> workers.</summary>
    private static Measurement Measure(InferenceEngine engine, string[] adapters, int concurrency, int vocabulary, EngineBenchmarkOptions options, int seed)
    {
        var requests = adapters.Select((adapter, i) => EngineBenchmark.Request(adapter, vocabulary, options, seed * 1000 + i, options.NewTokens)).ToArray();
        long tokens = 0, merged = 0;
        var cpuBefore = Environment.CpuUsage.TotalTime;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(async worker =>
        {
            for (var i = worker; i < requests.Length; i += concurrency)
            {
                await foreach (var update in engine.GenerateAsync(requests[i]))
                {
                    if (update is not GenerationFinished finished) continue;
                    Interlocked.Add(ref tokens, finished.Usage.CompletionTokens);
                    if (finished.ServedFrom == AdapterServedFrom.Merged) Interlocked.Increment(ref merged);
                }
            }
        });
        Task.WhenAll(workers).GetAwaiter().GetResult();
        var cpuSeconds = (Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds;
        return new Measurement(tokens / clock.Elapsed.TotalSeconds, tokens / cpuSeconds, (double)merged / requests.Length);
    }

    private static void PrintTable(List<CellResult> results, EngineBenchmarkOptions options)
    {
        Console.WriteLine();
        Console.WriteLine("| mix | concurrent | merge on tok/s | merge off tok/s | on/off (median of rounds) | on/off min-max | on/off per CPU-s | rounds | served merged |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        var medians = new List<(string Mix, int Concurrency, double Ratio)>();
        foreach (var cell in results.GroupBy(result => (result.Mix, result.Concurrency)))
        {
            var ratios = cell.Select(result => result.On.TokensPerSecond / result.Off.TokensPerSecond).ToList();
            var ratio = Statistics.Median(ratios);
            medians.Add((cell.Key.Mix, cell.Key.Concurrency, ratio));
            Console.WriteLine($"| {cell.Key.Mix} | {cell.Key.Concurrency} | {Statistics.Median(cell.Select(result => result.On.TokensPerSecond)):F1} | "
                              + $"{Statistics.Median(cell.Select(result => result.Off.TokensPerSecond)):F1} | {ratio:F2} | {ratios.Min():F2}-{ratios.Max():F2} | "
                              + $"{Statistics.Median(cell.Select(result => result.On.TokensPerCpuSecond / result.Off.TokensPerCpuSecond)):F2} | "
                              + $"{ratios.Count} | {Statistics.Median(cell.Select(result => result.On.MergedShare)):P0} |");
        }
        var worst = medians.MinBy(cell => cell.Ratio);
        var single = medians.Where(cell => cell.Mix == nameof(Mix.One)).Select(cell => cell.Ratio).DefaultIfEmpty(double.NaN).Min();
        Console.WriteLine();
        Console.WriteLine($"merge-ratio on/off min={worst.Ratio:F2} ({worst.Mix} x{worst.Concurrency}) one-adapter min={single:F2}");
        Console.WriteLine($"(decode tokens/s, prefill included; {options.Concurrency.Length} concurrencies; each ratio is the median over rounds of the "
                          + "ratio measured within a round; min-max is the spread of those ratios)");
    }

    /// <summary>Every round of every cell, in the shape inferserver-loadgen scale-report reads (snake_case).</summary>
    private static void WriteJson(string path, List<CellResult> results, EngineBenchmarkOptions options, string loadAtStart)
    {
        var document = new
        {
            model = options.Model,
            prompt_tokens = options.PromptTokens,
            new_tokens = options.NewTokens,
            load_average_start = loadAtStart,
            load_average_end = LoadAverage(),
            cells = results.Select(result => new
            {
                mix = result.Mix,
                concurrency = result.Concurrency,
                round = result.Round,
                on_tokens_per_second = result.On.TokensPerSecond,
                off_tokens_per_second = result.Off.TokensPerSecond,
                on_tokens_per_cpu_second = result.On.TokensPerCpuSecond,
                off_tokens_per_cpu_second = result.Off.TokensPerCpuSecond,
                merged_share = result.On.MergedShare,
            }),
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(document, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>/proc/loadavg's first three fields, or "n/a" off Linux.</summary>
    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <param name="TokensPerSecond">Generated tokens over wall time.</param>
    /// <param name="TokensPerCpuSecond">Generated tokens over the process's CPU time (user + system) in the cell: the work a
    /// token costs, which other processes on a shared machine change far less than they change wall time.</param>
    /// <param name="MergedShare">Requests served merged.</param>
    private sealed record Measurement(double TokensPerSecond, double TokensPerCpuSecond, double MergedShare);

    private sealed record CellResult(string Mix, int Concurrency, int Round, Measurement On, Measurement Off);
}
