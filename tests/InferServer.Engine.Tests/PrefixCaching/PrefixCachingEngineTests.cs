using InferServer.AdapterStore.Configuration;
using InferServer.Demo;
using InferServer.Engine.Composition;
using InferServer.Engine.Tokenization;
using InferServer.Kernels.Sampling;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferServer.Engine.Tests.PrefixCaching;

/// <summary>
/// Prefix caching changes where keys and values come from, never what a request gets: with caching on, every demo
/// architecture and adapter kind (LoRA, DoRA, embedding/lm_head LoRA, base) gives the greedy tokens of caching off and
/// log-probabilities within 1e-5 (float32 reassociation between a chunked and a whole prefill), in mixed batches, on a
/// first turn and on a second turn that extends the first with its answer.
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class PrefixCachingEngineTests(DemoModels demo)
{
    private const double LogprobTolerance = 1e-5;
    private const int NewTokens = 6;

    private const string SystemPrompt = "You are a helpful assistant for a small bakery. Answer briefly and politely, "
        + "mention opening hours when asked, and never invent prices that are not on the menu.";

    public static TheoryData<DemoModelKind> CausalKinds => new()
    {
        DemoModelKind.Llama, DemoModelKind.Qwen2, DemoModelKind.Qwen3, DemoModelKind.Llama3, DemoModelKind.Gpt2,
    };

    [Theory]
    [MemberData(nameof(CausalKinds))]
    public async Task CachingOnAndOff_GiveTheSameGreedyTokensAndLogprobs_ForEveryAdapterInMixedBatches(DemoModelKind kind)
    {
        string?[] adapters = [null, .. demo.Written.Single(w => w.Kind == kind).Adapters];
        var tokenizer = TokenizerLoader.Load(demo.Directory(kind));
        var system = tokenizer.Encode(SystemPrompt, addSpecialTokens: false);
        var firstTurns = adapters.SelectMany((adapter, i) => new[] { 0, 1 }.Select(j =>
            Request(adapter, [.. system, .. tokenizer.Encode($" Question {i}.{j}: when do you open?", false)]))).ToArray();

        var (off, offSecond) = await RunTwoTurns(kind, adapters, caching: false, firstTurns, tokenizer);
        var (on, onSecond) = await RunTwoTurns(kind, adapters, caching: true, firstTurns, tokenizer);

        for (var i = 0; i < firstTurns.Length; i++)
        {
            AssertSame(off[i], on[i], $"{kind}/{firstTurns[i].Adapter ?? "base"} first turn {i}");
            AssertSame(offSecond[i], onSecond[i], $"{kind}/{firstTurns[i].Adapter ?? "base"} second turn {i}");
        }
        // The second wave really reused: every adapter's second turn found at least its system prompt's full blocks.
        foreach (var (result, i) in onSecond.Select((r, i) => (r, i)))
            Assert.True(result.Final.Usage.CachedPromptTokens >= system.Count / 16 * 16,
                $"{firstTurns[i].Adapter ?? "base"}: {result.Final.Usage.CachedPromptTokens} cached of {result.Final.Usage.PromptTokens}");
        Assert.All(offSecond, result => Assert.Equal(0, result.Final.Usage.CachedPromptTokens));
    }

    [Fact]
    public async Task AnAdapterNeverReusesTheBasesOrAnotherAdaptersBlocks_WhereReuseWouldChangeTheAnswer()
    {
        const DemoModelKind kind = DemoModelKind.Qwen3;
        var tokenizer = TokenizerLoader.Load(demo.Directory(kind));
        IReadOnlyList<int> prompt = [.. tokenizer.Encode(SystemPrompt + " Question: when do you open?", false)];
        string?[] order = ["embed-head-r4", null, "dora-r8", "chat-r8"];

        await using var off = await Start(kind, order, caching: false);
        var expected = new Dictionary<string, Result>();
        foreach (var adapter in order)
            expected[adapter ?? ""] = await Run(off.Engine, Request(adapter, prompt));
        await using var on = await Start(kind, order, caching: true);
        foreach (var adapter in order)
        {
            var result = await Run(on.Engine, Request(adapter, prompt));
            Assert.Equal(0, result.Final.Usage.CachedPromptTokens); // each is the first of its adapter
            AssertSame(expected[adapter ?? ""], result, adapter ?? "base");
        }

        // Reuse would have changed the answer: each adapter's logprobs differ from the base's far beyond the tolerance.
        foreach (var adapter in order.OfType<string>())
            Assert.True(MaxDifference(expected[adapter], expected[""]) > 1000 * LogprobTolerance, $"{adapter} is indistinguishable from the base");
        var again = await Run(on.Engine, Request("dora-r8", prompt));
        Assert.Equal((prompt.Count - 1) / 16 * 16, again.Final.Usage.CachedPromptTokens);
        AssertSame(expected["dora-r8"], again, "dora-r8 again");
    }

    [Fact]
    public async Task Reload_MakesANewVersion_ThatReusesNoneOfTheOldBlocks_WhichAreFreed()
    {
        const DemoModelKind kind = DemoModelKind.Llama;
        var tokenizer = TokenizerLoader.Load(demo.Directory(kind));
        IReadOnlyList<int> prompt = [.. tokenizer.Encode(SystemPrompt, false)];
        await using var runtime = await Start(kind, ["chat-r8"], caching: true);
        var engine = runtime.Engine;

        var first = await Run(engine, Request("chat-r8", prompt));
        await Poll.UntilAsync(() => engine.Status.RunningRequests == 0);
        var cachedByOneVersion = engine.Status.KvBlocksCached;
        Assert.True(cachedByOneVersion >= prompt.Count / 16);
        Assert.Equal((prompt.Count - 1) / 16 * 16, (await Run(engine, Request("chat-r8", prompt))).Final.Usage.CachedPromptTokens);

        await runtime.Adapters.LoadAsync("chat-r8", null, reload: true, CancellationToken.None);
        var reloaded = await Run(engine, Request("chat-r8", prompt));

        Assert.Equal(0, reloaded.Final.Usage.CachedPromptTokens);
        AssertSame(first, reloaded, "same files, new version");
        // The old version's blocks were freed, not left unreachable: only the new version's chain is cached.
        await Poll.UntilAsync(() => engine.Status is { RunningRequests: 0 } && engine.Status.KvBlocksCached == cachedByOneVersion);
        Assert.Equal(0, engine.Status.KvBlocksInUse);
    }

    [Fact]
    public async Task APrefixComputedMerged_ServesABatchedRequest_AsCachingOffWould()
    {
        const DemoModelKind kind = DemoModelKind.Llama;
        var tokenizer = TokenizerLoader.Load(demo.Directory(kind));
        var adapterOptions = StoreOptions(kind, ["chat-r8"]) with { MergeEnabled = true, MergeWindow = 4, MergeMinShare = 0.5 };
        await using var on = await Start(kind, adapterOptions, caching: true);
        // Distinct prompts until one is served merged after one that was (the merge hot from its first step), so its
        // blocks hold keys and values computed with the merged weights.
        IReadOnlyList<int>? mergedPrompt = null;
        var previousMerged = false;
        for (var round = 0; round < 16 && mergedPrompt is null; round++)
        {
            IReadOnlyList<int> prompt = [.. tokenizer.Encode($"Round {round}. " + SystemPrompt, false)];
            var result = await Run(on.Engine, Request("chat-r8", prompt));
            var merged = result.Final.ServedFrom == AdapterServedFrom.Merged;
            if (merged && previousMerged && result.Final.Usage.CachedPromptTokens == 0)
                mergedPrompt = prompt;
            previousMerged = merged;
        }
        Assert.NotNull(mergedPrompt);

        // The follow-up runs beside a longer base request that is already running, so every one of its steps takes the
        // LoRA path (batched), on top of the merged request's blocks.
        var followUp = Request("chat-r8", [.. mergedPrompt, .. tokenizer.Encode(" And on Sundays?", false)]);
        var neighbour = Request(null, [.. tokenizer.Encode("Unrelated words about the weather today", false)]) with { MaxNewTokens = 64 };
        var batched = await BesideRunning(on.Engine, neighbour, followUp);
        await using var off = await Start(kind, StoreOptions(kind, ["chat-r8"]), caching: false);
        var expected = await BesideRunning(off.Engine, neighbour, followUp);

        Assert.Equal(mergedPrompt.Count / 16 * 16, batched.Final.Usage.CachedPromptTokens);
        Assert.NotEqual(AdapterServedFrom.Merged, batched.Final.ServedFrom);
        AssertSame(expected, batched, "merged prefix, batched request");
    }

    /// <summary>Runs <paramref name="request"/> once <paramref name="neighbour"/> is running, and both to the end.</summary>
    private static async Task<Result> BesideRunning(IInferenceEngine engine, GenerationRequest neighbour, GenerationRequest request)
    {
        var running = Run(engine, neighbour);
        await Poll.UntilAsync(() => engine.Status.RunningRequests == 1);
        var result = await Run(engine, request);
        await running;
        return result;
    }

    private async Task<(Result[] First, Result[] Second)> RunTwoTurns(DemoModelKind kind, string?[] adapters, bool caching,
        GenerationRequest[] firstTurns, TextTokenizer tokenizer)
    {
        await using var runtime = await Start(kind, adapters, caching);
        var first = await Task.WhenAll(firstTurns.Select(request => Run(runtime.Engine, request)));
        var second = await Task.WhenAll(firstTurns.Select((request, i) => Run(runtime.Engine, Request(request.Adapter,
            [.. request.PromptTokenIds!, .. first[i].Tokens, .. tokenizer.Encode(" Thanks. And tomorrow?", false)]))));
        await Poll.UntilAsync(() => runtime.Engine.Status.RunningRequests == 0);
        Assert.Equal(0, runtime.Engine.Status.KvBlocksInUse);
        return (first, second);
    }

    private Task<InferenceEngineRuntime> Start(DemoModelKind kind, string?[] adapters, bool caching) =>
        Start(kind, StoreOptions(kind, adapters), caching);

    private Task<InferenceEngineRuntime> Start(DemoModelKind kind, AdapterStoreOptions adapterOptions, bool caching) =>
        EngineComposition.StartAsync(new EngineOptions
        {
            ModelPath = demo.Directory(kind),
            KvCacheBytes = 4L * 1024 * 1024,
            KvBlockSize = 16,
            MaxBatchRows = 16,
            MaxBatchTokens = 40, // long prompts prefill in chunks, beside the other rows' decodes
            PrefixCaching = caching,
        }, adapterOptions, NullLoggerFactory.Instance, TimeProvider.System);

    private AdapterStoreOptions StoreOptions(DemoModelKind kind, string?[] adapters) => new()
    {
        AdapterRoots = [Path.Combine(demo.Directory(kind), "adapters")],
        DeviceSlots = Math.Max(1, adapters.Count(a => a is not null)),
        MaxRank = 64,
        MergeEnabled = false,
    };

    private static GenerationRequest Request(string? adapter, IReadOnlyList<int> prompt) =>
        new(adapter, null, prompt, NewTokens, new SamplingParameters { Temperature = 0, Logprobs = true }, [], [], IgnoreEos: true);

    private static async Task<Result> Run(IInferenceEngine engine, GenerationRequest request)
    {
        var (deltas, final) = await EngineFixture.Collect(engine, request);
        var sampled = deltas.SelectMany(d => d.Logprobs ?? []).ToArray();
        return new Result([.. sampled.Select(s => s.TokenId)], [.. sampled.Select(s => s.Logprob ?? float.NaN)], final);
    }

    private static void AssertSame(Result expected, Result actual, string what)
    {
        Assert.Equal(expected.Tokens, actual.Tokens);
        var difference = MaxDifference(expected, actual);
        Assert.True(difference <= LogprobTolerance, $"{what}: logprobs differ by {difference:E3}");
    }

    private static double MaxDifference(Result a, Result b) =>
        a.Logprobs.Zip(b.Logprobs, (x, y) => Math.Abs((double)x - y)).DefaultIfEmpty(0).Max();

    private sealed record Result(int[] Tokens, float[] Logprobs, GenerationFinished Final);
}
