using System.Text;
using InferServer.AdapterStore.Configuration;
using InferServer.Demo;
using InferServer.Engine.Composition;
using InferServer.Kernels.Sampling;
using InferServer.Kernels.Structured;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferServer.Engine.Tests;

/// <summary>
/// Engine:BatchInvariant end to end on every demo generator: the same seeded sampled request with logprobs, on the base model
/// and on every demo adapter (LoRA, rsLoRA, DoRA, embedding and output-head LoRA), gives bit-identical tokens and logprobs alone
/// and inside batches of 1, 7, 8, 63 and 64 requests with other adapters, other lengths, a JSON schema, a tight KV cache
/// (preemption and recomputation) and chunked prefill, with the merge cache eager to merge.
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class BatchInvariantEngineTests(DemoModels demo)
{
    private static readonly int[] BatchSizes = [1, 7, 8, 63, 64];

    public static TheoryData<DemoModelKind> Generators =>
        [.. DemoModelGenerator.Kinds.Where(kind => kind is not (DemoModelKind.Bert or DemoModelKind.MiniLm or DemoModelKind.LlamaClassifier or DemoModelKind.Qwen3Classifier))];

    [Theory]
    [MemberData(nameof(Generators))]
    public async Task SeededRequests_AloneAndInBatchesOf1_7_8_63_64_GiveBitIdenticalTokensAndLogprobs(DemoModelKind kind)
    {
        var adapters = demo.Written.Single(w => w.Kind == kind).Adapters;
        var options = new EngineOptions
        {
            ModelPath = demo.Directory(kind),
            BatchInvariant = true,
            MaxBatchRows = 64,
            // Prompts of 20-44 tokens: alone a prompt is one chunk, among others it is cut into several.
            MaxBatchTokens = 64,
            MaxContextTokens = 96,
            // About 2,000 token slots for 64 requests of up to 54 tokens: some are preempted and recomputed.
            KvCacheBytes = 1L << 20,
        };
        var store = new AdapterStoreOptions
        {
            AdapterRoots = [Path.Combine(demo.Directory(kind), "adapters")],
            DeviceSlots = adapters.Count + 1,
            MaxRank = 16,
            // Would merge an adapter that is alone in its steps: the mode must not, or alone and batched would differ.
            MergeEnabled = true,
            MergeWindow = 2,
            MergeMinShare = 0.5,
        };
        await using var runtime = await EngineComposition.StartAsync(options, store, NullLoggerFactory.Instance, TimeProvider.System);
        await runtime.StartAsync(CancellationToken.None);
        var engine = runtime.Engine;
        string?[] targetsAdapters = [null, .. adapters];
        var targets = targetsAdapters.Select((adapter, i) => Seeded(Prompt(new Random(i), 20 + 4 * i), adapter, 4242UL + (ulong)i, 6)).ToArray();

        var alone = new List<string>();
        foreach (var target in targets)
        {
            alone.Add(await Transcript(engine, target));
        }

        var random = new Random((int)kind);
        foreach (var size in BatchSizes)
        {
            var inBatch = Enumerable.Range(0, Math.Min(size, targets.Length)).ToArray();
            var requests = inBatch.Select(i => targets[i]).Concat(Enumerable.Range(0, size - inBatch.Length)
                .Select(f => Filler(random, targetsAdapters, f))).ToList();
            var order = Enumerable.Range(0, requests.Count).OrderBy(_ => random.Next()).ToArray();
            var stepsBefore = engine.Status.Steps;
            var rowsBefore = engine.Status.RowsProcessed;
            var results = await Task.WhenAll(order.Select(i => Transcript(engine, requests[i])));
            foreach (var i in inBatch)
            {
                var got = results[Array.IndexOf(order, i)];
                Assert.True(alone[i] == got, $"{kind}, batch of {size}, adapter {targetsAdapters[i] ?? "(base)"}:\nalone   {alone[i]}\nbatched {got}");
            }

            if (size > 1)
            {
                Assert.True(engine.Status.RowsProcessed - rowsBefore > engine.Status.Steps - stepsBefore, $"batch of {size} never shared a step");
            }
        }
    }

    private static GenerationRequest Seeded(int[] prompt, string? adapter, ulong seed, int tokens) =>
        new(adapter, null, prompt, tokens, new SamplingParameters { Temperature = 0.8, TopP = 0.95, Seed = seed, Logprobs = true, TopLogprobs = 3 },
            [], [], IgnoreEos: true);

    /// <summary>Another request: another adapter, length and seed, greedy or sampled, sometimes under a JSON schema.</summary>
    private static GenerationRequest Filler(Random random, string?[] adapters, int index)
    {
        var request = Seeded(Prompt(random, random.Next(3, 45)), adapters[random.Next(adapters.Length)], (ulong)random.Next(), random.Next(1, 10));
        return (index % 5) switch
        {
            1 => request with { Sampling = new SamplingParameters { Temperature = 0 } },
            2 => request with { Grammar = JsonGrammarCache.Get("""{"type":"object","properties":{"a":{"type":"integer"}}}""") },
            _ => request,
        };
    }

    private static int[] Prompt(Random random, int length) => [.. Enumerable.Range(0, length).Select(_ => random.Next(10, 1000))];

    /// <summary>Token ids and the exact bits of every logprob and top logprob.</summary>
    private static async Task<string> Transcript(InferenceEngine engine, GenerationRequest request)
    {
        var (deltas, final) = await EngineFixture.Collect(engine, request);
        Assert.NotEqual(AdapterServedFrom.Merged, final.ServedFrom);
        var text = new StringBuilder();
        if (!request.Sampling.Logprobs)
        {
            return string.Join(' ', EngineFixture.TokenIds(deltas));
        }

        foreach (var token in deltas.SelectMany(d => d.Logprobs ?? []))
        {
            text.Append($"{token.TokenId}:{Bits(token.Logprob)}[");
            text.AppendJoin(',', token.TopLogprobs.Select(t => $"{t.TokenId}:{Bits(t.Logprob)}"));
            text.Append("] ");
        }

        Assert.Equal(EngineFixture.TokenIds(deltas), deltas.SelectMany(d => d.Logprobs ?? []).Select(t => t.TokenId));
        return text.ToString();
    }

    private static string Bits(float? value) => value is float v ? BitConverter.SingleToInt32Bits(v).ToString("x8") : "-";
}
