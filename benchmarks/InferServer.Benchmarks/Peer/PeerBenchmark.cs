using System.Diagnostics;
using System.Globalization;
using InferServer.AdapterStore.Configuration;
using InferServer.Benchmarks.Engine;
using InferServer.Engine;

namespace InferServer.Benchmarks.Peer;

/// <summary>
/// InferServer beside llama.cpp on the same weights: the engine benchmark's large model and its adapters are converted to
/// F32 GGUF (<see cref="LlamaGgufConverter"/>), both engines must produce the same greedy tokens on the same prompts, then
/// the same workloads run on each engine alternately, cell by cell — 1, 8 and 64 concurrent requests on the base model, on
/// one adapter and on distinct adapters. llama.cpp applies adapters per context, so distinct adapters run there as
/// single-sequence batches one after another with the adapter switched between them. Ratios are InferServer over
/// llama.cpp, each the median of the ratios within a round. Prints the load average beside every measurement.
/// </summary>
public static class PeerBenchmark
{
    private const string ConversionVersion = "gguf-v1";

    /// <summary>The workloads.</summary>
    public enum Scenario { Base, OneAdapter, Distinct }

    private sealed record Sample(double TokensPerSecond, double TimePerOutputTokenMs);

    /// <summary>Runs the benchmark; 0 when it ran, 1 when the engines disagree on greedy tokens.</summary>
    public static int Run(PeerBenchmarkOptions options)
    {
        var engineOptions = new EngineBenchmarkOptions("large", options.Concurrency, options.NewTokens, options.PromptTokens, options.Repeats,
            options.Threads, options.CacheRoot);
        var (modelDirectory, adaptersDirectory, vocabulary) = EngineBenchmark.PrepareModel(engineOptions);
        var distinct = Math.Min(64, options.Concurrency.Max());
        var clock = Stopwatch.StartNew();
        var (modelGguf, adapterGgufs) = Convert(modelDirectory, adaptersDirectory, options.CacheRoot, Math.Max(2, distinct));
        Console.Error.WriteLine($"  GGUF ready in {clock.Elapsed.TotalSeconds:F0} s");
        var threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
        Console.WriteLine($"# peer benchmark: InferServer vs llama.cpp (LLamaSharp 0.30.0, F32, flash attention off), model large, "
                          + $"{options.PromptTokens}-token prompts, {options.NewTokens} new tokens, concurrency {string.Join("/", options.Concurrency)}, "
                          + $"median of {options.Repeats}, {threads} threads each");

        var engine = EngineBenchmark.StartEngine(modelDirectory, adaptersDirectory, engineOptions, new AdapterStoreOptions { MergeEnabled = false });
        using var peer = new LlamaCppPeer(modelGguf, options.Concurrency.Max(), options.PromptTokens + options.NewTokens, threads);
        try
        {
            for (var i = 0; i < adapterGgufs.Count; i++)
            {
                peer.LoadAdapter(EngineBenchmark.Adapter(i), adapterGgufs[i]);
            }
            EngineBenchmark.Warm(engine, vocabulary, engineOptions);
            var mismatches = CheckGreedyTokens(engine, peer, vocabulary, engineOptions, options.CheckPrompts);
            if (mismatches > 0)
            {
                Console.WriteLine($"greedy check FAILED: {mismatches} sequences differ; throughput would compare different computations");
                return 1;
            }

            var results = new Dictionary<(string Engine, Scenario, int), List<Sample>>();
            for (var round = -1; round < options.Repeats; round++)
            {
                foreach (var concurrency in options.Concurrency)
                {
                    foreach (var scenario in Enum.GetValues<Scenario>())
                    {
                        var seed = Math.Max(round, 0) * 1000 + concurrency;
                        var server = MeasureServer(engine, scenario, concurrency, vocabulary, engineOptions, seed);
                        var serverLoad = LoadAverage();
                        var llama = MeasurePeer(peer, scenario, concurrency, vocabulary, engineOptions, seed);
                        var llamaLoad = LoadAverage();
                        Console.WriteLine($"  {(round < 0 ? "warm-up" : $"round {round + 1}")} {scenario} x{concurrency}: InferServer "
                                                + $"{server.TokensPerSecond:F1} tok/s (load {serverLoad}), llama.cpp {llama.TokensPerSecond:F1} tok/s (load {llamaLoad})");
                        if (round < 0)
                        {
                            continue;
                        }
                        Add(results, ("InferServer", scenario, concurrency), server);
                        Add(results, ("llama.cpp", scenario, concurrency), llama);
                    }
                }
            }
            var table = new PeerTable(results.ToDictionary(r => r.Key, r => (IReadOnlyList<(double, double)>)r.Value
                .Select(s => (s.TokensPerSecond, s.TimePerOutputTokenMs)).ToList()), options.Concurrency);
            table.Print();
            if (options.ChartDirectory is { } charts)
            {
                table.Chart(Path.Combine(charts, "peer-throughput.svg"));
            }
            return 0;
        }
        finally
        {
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// The model and the first <paramref name="adapterCount"/> tenant adapters as GGUF under <paramref name="cacheRoot"/>,
    /// converted once (the files are moved into place only when complete).
    /// </summary>
    public static (string Model, IReadOnlyList<string> Adapters) Convert(string modelDirectory, string adaptersDirectory, string cacheRoot, int adapterCount)
    {
        var directory = Directory.CreateDirectory(Path.Combine(cacheRoot, $"{Path.GetFileName(modelDirectory)}-{ConversionVersion}")).FullName;
        var converter = new LlamaGgufConverter(modelDirectory);
        var model = Path.Combine(directory, "model.gguf");
        if (!File.Exists(model))
        {
            converter.WriteModel(model);
        }
        var adapters = new List<string>();
        for (var i = 0; i < adapterCount; i++)
        {
            var name = EngineBenchmark.Adapter(i);
            var path = Path.Combine(directory, name + ".gguf");
            if (!File.Exists(path))
            {
                converter.WriteAdapter(Path.Combine(adaptersDirectory, name), path);
            }
            adapters.Add(path);
        }
        return (model, adapters);
    }

    /// <summary>Greedy tokens of <paramref name="prompts"/> prompts on the base model and two adapters, both engines; returns how many differ.</summary>
    private static int CheckGreedyTokens(InferenceEngine engine, LlamaCppPeer peer, int vocabulary, EngineBenchmarkOptions options, int prompts)
    {
        var mismatches = 0;
        var checkedSequences = 0;
        foreach (var adapter in new[] { null, EngineBenchmark.Adapter(0), EngineBenchmark.Adapter(1) })
        {
            var requests = Enumerable.Range(0, prompts).Select(i => EngineBenchmark.Request(adapter, vocabulary, options, 77_000 + i, options.NewTokens)).ToArray();
            var server = Task.WhenAll(requests.Select(r => GreedyTokens(engine, r))).GetAwaiter().GetResult();
            var llama = peer.Generate(requests.Select(r => r.PromptTokenIds!.ToArray()).ToArray(), options.NewTokens, adapter);
            for (var i = 0; i < prompts; i++)
            {
                checkedSequences++;
                if (!server[i].SequenceEqual(llama[i]))
                {
                    mismatches++;
                    Console.Error.WriteLine($"  greedy tokens differ ({adapter ?? "base"}, prompt {i}): InferServer [{string.Join(",", server[i])}] "
                                            + $"llama.cpp [{string.Join(",", llama[i])}]");
                }
            }
        }
        Console.WriteLine($"greedy check: {checkedSequences - mismatches}/{checkedSequences} sequences identical "
                          + $"({prompts} prompts x base, {EngineBenchmark.Adapter(0)}, {EngineBenchmark.Adapter(1)}; {options.NewTokens} tokens each)");
        return mismatches;
    }

    /// <summary>The engine's greedy tokens for <paramref name="request"/>.</summary>
    public static async Task<int[]> GreedyTokens(InferenceEngine engine, GenerationRequest request)
    {
        var tokens = new List<int>();
        await foreach (var update in engine.GenerateAsync(request))
        {
            if (update is TokenDelta delta)
            {
                tokens.AddRange(delta.TokenIds);
            }
        }
        return tokens.ToArray();
    }

    private static Sample MeasureServer(InferenceEngine engine, Scenario scenario, int concurrency, int vocabulary, EngineBenchmarkOptions options, int seed)
    {
        var requests = Enumerable.Range(0, concurrency)
            .Select(i => EngineBenchmark.Request(AdapterOf(scenario, i), vocabulary, options, seed * 100 + i, options.NewTokens))
            .ToArray();
        var clock = Stopwatch.StartNew();
        var finished = Task.WhenAll(requests.Select(r => Finish(engine, r))).GetAwaiter().GetResult();
        var seconds = clock.Elapsed.TotalSeconds;
        var tokens = finished.Sum(f => f.Usage.CompletionTokens);
        // Time per output token after the first, as a client sees it: (total − time to first token) / (tokens − 1).
        var tpot = Statistics.Median(finished.Select(f => (f.Timing.Total - f.Timing.TimeToFirstToken).TotalMilliseconds / (f.Usage.CompletionTokens - 1)));
        return new Sample(tokens / seconds, tpot);
    }

    private static Sample MeasurePeer(LlamaCppPeer peer, Scenario scenario, int concurrency, int vocabulary, EngineBenchmarkOptions options, int seed)
    {
        var prompts = Enumerable.Range(0, concurrency)
            .Select(i => EngineBenchmark.Request(null, vocabulary, options, seed * 100 + i, options.NewTokens).PromptTokenIds!.ToArray())
            .ToArray();
        var tpots = new List<double>();
        var clock = Stopwatch.StartNew();

        void Batch(int[][] batch, string? adapter)
        {
            var firstToken = TimeSpan.Zero;
            peer.Generate(batch, options.NewTokens, adapter, step =>
            {
                if (step == 0)
                {
                    firstToken = clock.Elapsed;
                }
            });
            tpots.Add((clock.Elapsed - firstToken).TotalMilliseconds / (options.NewTokens - 1));
        }

        if (scenario == Scenario.Distinct)
        {
            // Adapters are per context in llama.cpp: one sequence per batch, the adapter switched between batches.
            for (var i = 0; i < concurrency; i++)
            {
                Batch([prompts[i]], AdapterOf(scenario, i));
            }
        }
        else
        {
            Batch(prompts, AdapterOf(scenario, 0));
        }
        return new Sample(concurrency * options.NewTokens / clock.Elapsed.TotalSeconds, Statistics.Median(tpots));
    }

    private static string? AdapterOf(Scenario scenario, int request) => scenario switch
    {
        Scenario.Base => null,
        Scenario.OneAdapter => EngineBenchmark.Adapter(0),
        _ => EngineBenchmark.Adapter(request % 64),
    };

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
        return finished ?? throw new InvalidOperationException("the stream ended without a final event");
    }

    private static void Add(Dictionary<(string, Scenario, int), List<Sample>> results, (string, Scenario, int) key, Sample sample)
    {
        if (!results.TryGetValue(key, out var list))
        {
            results[key] = list = [];
        }
        list.Add(sample);
    }

    /// <summary>The 1-minute load average (/proc/loadavg), or "n/a" where there is none.</summary>
    internal static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "n/a";
        }
        catch (UnauthorizedAccessException)
        {
            return "n/a";
        }
    }

    internal static string Format(double value) => value.ToString("F2", CultureInfo.InvariantCulture);
}
