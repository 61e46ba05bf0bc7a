using System.Diagnostics;
using InferServer.Demo;
using InferServer.Engine.Tokenization;
using InferServer.Kernels.Sampling;
using InferServer.Kernels.Structured;
using TorchSharp;

namespace InferServer.Benchmarks.Structured;

/// <summary>
/// The per-step cost of structured outputs on GPT-2's 50,257-token vocabulary (the demo Llama's tokenizer): for 1, 8
/// and 64 constrained rows, each walking its schema by random allowed tokens (seeded), the time to compute every row's
/// mask per step (cold: a fresh mask cache, as for a schema never seen; warm: the same walks again), and the time the
/// sampler adds to apply them ([rows, vocabulary] masked_fill) over the same call without masks. No model runs.
/// </summary>
internal static class StructuredBenchmark
{
    private static readonly string[] Schemas =
    [
        """{"type":"object","properties":{"name":{"type":"string","maxLength":24},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string","maxLength":8},"maxItems":4}},"required":["name","age","tags"],"additionalProperties":false}""",
        """{"type":"array","maxItems":6,"items":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"},"kind":{"enum":["point","vertex","corner"]}},"required":["x","y","kind"],"additionalProperties":false}}""",
        """{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","maxItems":2,"items":{"$ref":"#/$defs/node"}}},"required":["v"],"additionalProperties":false}},"$ref":"#/$defs/node"}""",
        """{"type":"object","properties":{"answer":{"type":"string"},"confidence":{"type":"number"}},"required":["answer","confidence"],"additionalProperties":false}""",
    ];

    public static int Run(string[] args)
    {
        var rowsList = args.Length > 0 ? args[0].Split(',').Select(int.Parse).ToArray() : [1, 8, 64];
        var steps = args.Length > 1 ? int.Parse(args[1]) : 48;
        var model = DemoModelGenerator.EnsureDefault(Path.Combine(Path.GetTempPath(), "inferserver-structured-benchmark"));
        var tokenizer = TokenizerLoader.Load(model);
        var vocabulary = tokenizer.VocabularySize;
        var bytes = Enumerable.Range(0, vocabulary)
            .Select(id => tokenizer.HasToken(id) && !tokenizer.IsSpecialToken(id) ? tokenizer.TokenBytes(id).ToArray() : null).ToArray();
        var clock = Stopwatch.StartNew();
        var trie = new TokenTrie(bytes);
        Console.WriteLine($"token trie: {vocabulary} ids, {trie.NodeCount} nodes, built in {clock.Elapsed.TotalMilliseconds:F0} ms");
        var eos = tokenizer.EosTokenIds;
        Console.WriteLine("rows | cache | mask ms/step (median) | mean | max | sampler mask apply ms/step (min with - min without)");
        foreach (var rows in rowsList)
        {
            foreach (var cache in new[] { "cold", "warm" })
            {
                // Cold: a new trie has an empty mask cache (built outside the timing). Warm: the walks just run again.
                var walkTrie = cache == "cold" ? new TokenTrie(bytes) : trie;
                var timings = Walk(walkTrie, bytes, rows, steps, eos);
                var apply = SamplerOverhead(rows, vocabulary);
                Console.WriteLine($"{rows,4} | {cache} | {Statistics.Median(timings):F2} | {timings.Average():F2} | {timings.Max():F2} | {apply:F2}");
            }
        }
        return 0;
    }

    private static List<double> Walk(TokenTrie trie, byte[]?[] tokenBytes, int rows, int steps, IReadOnlyList<int> eos)
    {
        var vocabulary = tokenBytes.Length;
        var random = new Random(1);
        var matchers = Enumerable.Range(0, rows).Select(row => JsonGrammarCache.Get(Schemas[row % Schemas.Length]).NewMatcher()).ToArray();
        var masks = Enumerable.Range(0, rows).Select(_ => new bool[vocabulary]).ToArray();
        var timings = new List<double>();
        for (var step = 0; step < steps; step++)
        {
            var clock = Stopwatch.StartNew();
            for (var row = 0; row < rows; row++)
            {
                matchers[row].FillMask(trie, masks[row], eos);
            }
            timings.Add(clock.Elapsed.TotalMilliseconds);
            for (var row = 0; row < rows; row++)
            {
                var allowed = Enumerable.Range(0, vocabulary).Where(id => masks[row][id] && !eos.Contains(id)).ToArray();
                if (allowed.Length == 0 || matchers[row].IsFinished)
                {
                    matchers[row] = JsonGrammarCache.Get(Schemas[row % Schemas.Length]).NewMatcher();
                    continue;
                }
                matchers[row].Accept(tokenBytes[allowed[random.Next(allowed.Length)]]);
            }
        }
        return timings;
    }

    private static double SamplerOverhead(int rows, int vocabulary)
    {
        var parameters = new SamplingParameters { Temperature = 0.8, TopP = 0.95 };
        var masks = Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, vocabulary).Select(id => id % 3 == 0).ToArray()).ToArray();
        // Interleaved, and the minimum of each: on a loaded machine the minimum is the least disturbed measurement.
        var withMasks = new List<double>();
        var without = new List<double>();
        for (var repeat = 0; repeat < 20; repeat++)
        {
            without.Add(Time(false));
            withMasks.Add(Time(true));
        }
        return withMasks.Min() - without.Min();

        double Time(bool masked)
        {
            using var scope = torch.NewDisposeScope();
            var logits = torch.randn(rows, vocabulary);
            var samplingRows = Enumerable.Range(0, rows).Select(row => new SamplingRow(parameters, new TokenHistory([]), new SequenceRandom((ulong)row))).ToArray();
            var clock = Stopwatch.StartNew();
            Sampler.Sample(logits, samplingRows, null, masked ? masks : null);
            return clock.Elapsed.TotalMilliseconds;
        }
    }
}
