using System.Diagnostics;
using InferServer.AdapterStore.Configuration;
using InferServer.Benchmarks.Engine;
using InferServer.Engine;
using InferServer.Kernels.Structured;

namespace InferServer.Benchmarks.Structured;

/// <summary>
/// What constrained decoding costs end to end: decode throughput of N concurrent requests, each under its own JSON
/// schema (a distinct schema text per request, so each has its own grammar and mask cache entries), over the same
/// requests unconstrained, on one engine (the large benchmark model by default). Paired rounds: each round measures both,
/// in alternating order, and the ratio is the median of the rounds' on/off ratios, which cancels a shared machine's
/// drift. A short first round of each (2 tokens), not counted, builds the token trie and the masks of each schema's opening.
/// Prints each round and then exactly <c>constrained-ratio on/off=X</c>. Never asserts on time.
/// </summary>
internal static class ConstrainedRatioBenchmark
{
    /// <summary>The defaults (large model, 64 requests of 8 tokens, 3 rounds: about 2 minutes of a quiet 2-core CPU) before
    /// the caller's own options.</summary>
    private static readonly string[] Defaults = ["--model", "large", "--concurrency", "64", "--tokens", "8", "--repeats", "3"];

    public static int Run(string[] args)
    {
        var options = EngineBenchmarkOptions.Parse([.. Defaults, .. args]);
        var concurrency = options.Concurrency.Max();
        var (model, adapters, vocabulary) = EngineBenchmark.PrepareModel(options);
        Console.WriteLine($"# constrained-ratio: model {options.Model}, {concurrency} concurrent requests, {options.PromptTokens}-token prompts, "
                          + $"{options.NewTokens} new tokens, {options.Repeats} paired rounds");
        var engine = EngineBenchmark.StartEngine(model, adapters, options with { Concurrency = [concurrency] }, new AdapterStoreOptions());
        try
        {
            var grammars = Enumerable.Range(0, concurrency).Select(i => JsonGrammarCache.Get(Schema(i))).ToArray();
            var warming = options with { NewTokens = Math.Min(2, options.NewTokens) };
            Measure(engine, vocabulary, warming, concurrency, grammars, constrained: true, seed: 0);
            Measure(engine, vocabulary, warming, concurrency, grammars, constrained: false, seed: 0);
            var ratios = new List<double>();
            for (var round = 1; round <= options.Repeats; round++)
            {
                // Alternate which goes first, so a machine getting slower or faster does not favour one side.
                var onFirst = round % 2 == 1;
                var first = Measure(engine, vocabulary, options, concurrency, grammars, constrained: onFirst, seed: round);
                var second = Measure(engine, vocabulary, options, concurrency, grammars, constrained: !onFirst, seed: round);
                var (on, off) = onFirst ? (first, second) : (second, first);
                ratios.Add(on / off);
                Console.WriteLine($"round {round}: constrained {on:F1} tok/s, unconstrained {off:F1} tok/s, on/off {on / off:F3}");
            }
            Console.WriteLine($"constrained-ratio on/off={Statistics.Median(ratios):F3}");
        }
        finally
        {
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return 0;
    }

    // One schema per request: its own property names, so no two requests share a grammar. Unbounded strings in an
    // unbounded array keep a value open for the whole run, so both sides generate the same number of tokens.
    private static string Schema(int index) =>
        $$$"""{"type":"object","properties":{"notes_{{{index}}}":{"type":"array","items":{"type":"string"}},"score_{{{index}}}":{"type":"number"}},"required":["notes_{{{index}}}","score_{{{index}}}"],"additionalProperties":false}""";

    private static double Measure(InferenceEngine engine, int vocabulary, EngineBenchmarkOptions options, int concurrency, JsonGrammar[] grammars, bool constrained, int seed)
    {
        var requests = Enumerable.Range(0, concurrency).Select(i =>
        {
            var request = EngineBenchmark.Request(null, vocabulary, options, seed * 1000 + i, options.NewTokens);
            return constrained ? request with { Grammar = grammars[i] } : request;
        }).ToArray();
        var clock = Stopwatch.StartNew();
        var tokens = Task.WhenAll(requests.Select(request => EngineBenchmark.Drain(engine, request))).GetAwaiter().GetResult().Sum();
        return tokens / clock.Elapsed.TotalSeconds;
    }
}
