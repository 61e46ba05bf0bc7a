using InferServer.AdapterStore;
using InferServer.AdapterStore.Registry;
using InferServer.Kernels.Sampling;
using InferServer.Engine;
using InferServer.Engine.Tests.Models;
using InferServer.Engine.Tests.Tokenization;
using InferServer.Engine.Tokenization;

namespace InferServer.Engine.Tests;

/// <summary>The engine on the llama-tiny fixture: exactness, batching invariance, sampling, stops, limits, cancellation.</summary>
[Collection(EngineCollection.Name)]
public sealed class InferenceEngineTests
{
    private static int[][] FixtureInputs => Fixtures.Inputs("llama-tiny").Select(i => i.Select(t => (int)t).ToArray()).ToArray();

    [Fact]
    public async Task GreedyOutput_MatchesTransformersFixture()
    {
        await using var engine = EngineFixture.Start();
        var expected = Fixtures.Case("llama-tiny", null).GetProperty("greedy").EnumerateArray()
            .Select(g => g.EnumerateArray().Select(t => t.GetInt32()).ToArray()).ToArray();
        for (var i = 0; i < FixtureInputs.Length; i++)
        {
            var (deltas, final) = await EngineFixture.Collect(engine, EngineFixture.Greedy(FixtureInputs[i], 8));
            Assert.Equal(expected[i], EngineFixture.TokenIds(deltas));
            Assert.Equal(FinishReason.Length, final.Reason);
            Assert.Equal(new Usage(FixtureInputs[i].Length, 8), final.Usage);
        }
    }

    [Fact]
    public async Task GreedyOutput_IsIdenticalAloneAndAmong32Others()
    {
        await using var engine = EngineFixture.Start(new EngineOptions { KvCacheBytes = 8L * 1024 * 1024, MaxBatchTokens = 96 });
        var random = new Random(7);
        var prompts = Enumerable.Range(0, 33).Select(_ => Enumerable.Range(0, random.Next(3, 40)).Select(_ => random.Next(1, 1000)).ToArray()).ToArray();
        var alone = new List<int[]>();
        foreach (var prompt in prompts)
            alone.Add(EngineFixture.TokenIds((await EngineFixture.Collect(engine, EngineFixture.Greedy(prompt, 12))).Deltas));

        var together = await Task.WhenAll(prompts.Select(p => EngineFixture.Collect(engine, EngineFixture.Greedy(p, 12))));

        Assert.True(engine.Status.RowsProcessed > engine.Status.Steps, "requests were expected to share steps");
        for (var i = 0; i < prompts.Length; i++)
            Assert.Equal(alone[i], EngineFixture.TokenIds(together[i].Deltas));
    }

    [Fact]
    public async Task SeededSampling_IsReproducible_AndSeedsDiffer()
    {
        await using var engine = EngineFixture.Start();
        GenerationRequest Sampled(ulong seed) => new(null, null, FixtureInputs[1], 16,
            new SamplingParameters { Temperature = 1.0, TopP = 0.95, Seed = seed }, [], [], IgnoreEos: true);

        var first = EngineFixture.TokenIds((await EngineFixture.Collect(engine, Sampled(42))).Deltas);
        var again = EngineFixture.TokenIds((await EngineFixture.Collect(engine, Sampled(42))).Deltas);
        var other = EngineFixture.TokenIds((await EngineFixture.Collect(engine, Sampled(43))).Deltas);

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public async Task StopString_EndsGenerationBeforeIt_AndIsNotEmitted()
    {
        await using var engine = EngineFixture.Start();
        var (free, _) = await EngineFixture.Collect(engine, EngineFixture.Greedy(FixtureInputs[2], 8));
        var fullText = string.Concat(free.Select(d => d.Text));
        Assert.True(fullText.Length > 6, $"the continuation '{fullText}' is too short to cut");
        var stop = fullText.Substring(fullText.Length / 2, 3);
        var expectedText = fullText[..fullText.IndexOf(stop, StringComparison.Ordinal)];

        var request = EngineFixture.Greedy(FixtureInputs[2], 8) with { StopStrings = [stop] };
        var (deltas, final) = await EngineFixture.Collect(engine, request);

        Assert.Equal(FinishReason.Stop, final.Reason);
        Assert.Equal(expectedText, string.Concat(deltas.Select(d => d.Text)));
    }

    [Fact]
    public async Task StopTokenId_EndsGeneration_AndIsNotEmitted()
    {
        await using var engine = EngineFixture.Start();
        var (free, _) = await EngineFixture.Collect(engine, EngineFixture.Greedy(FixtureInputs[2], 8));
        var ids = EngineFixture.TokenIds(free);
        var request = EngineFixture.Greedy(FixtureInputs[2], 8) with { StopTokenIds = [ids[3]] };

        var (deltas, final) = await EngineFixture.Collect(engine, request);

        Assert.Equal(FinishReason.Stop, final.Reason);
        Assert.Equal(ids.TakeWhile(t => t != ids[3]).ToArray(), EngineFixture.TokenIds(deltas));
    }

    [Fact]
    public async Task FullQueue_RefusesAtOnce_WithQueueFull()
    {
        // Two requests hold the queue's two places for as long as their adapter's load is held back (deterministic on
        // any machine, unlike a long generation in front of them); the third is refused at once.
        await using var engine = StoreBackedEngine.Start(new EngineOptions { KvCacheBytes = 8L * 1024 * 1024, MaxQueuedRequests = 2 });
        engine.Adapters.CloseGate("qv-r8");
        using var cancel = new CancellationTokenSource();
        var queued = new[]
        {
            engine.Engine.GenerateAsync(EngineFixture.Greedy(FixtureInputs[1], 4, "qv-r8"), cancel.Token).GetAsyncEnumerator(),
            engine.Engine.GenerateAsync(EngineFixture.Greedy(FixtureInputs[2], 4, "qv-r8"), cancel.Token).GetAsyncEnumerator(),
        };
        var waiting = queued.Select(q => q.MoveNextAsync().AsTask()).ToArray();
        await Poll.UntilAsync(() => engine.Engine.Status.WaitingRequests == 2);

        var refused = engine.Engine.GenerateAsync(EngineFixture.Greedy(FixtureInputs[0], 4)).GetAsyncEnumerator();
        await Assert.ThrowsAsync<QueueFullException>(async () => await refused.MoveNextAsync());

        await cancel.CancelAsync();
        foreach (var task in waiting)
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task);
        engine.Adapters.OpenGate("qv-r8");
        await Poll.UntilAsync(() => engine.Store.RequestPins == 0 && engine.Engine.Status.WaitingRequests == 0);
    }

    [Fact]
    public async Task CancelledRequest_LeavesTheBatch_AndFreesItsKvCache()
    {
        await using var engine = EngineFixture.Start();
        using var cancel = new CancellationTokenSource();
        var stream = engine.GenerateAsync(EngineFixture.Greedy(FixtureInputs[2], 100), cancel.Token).GetAsyncEnumerator();
        Assert.True(await stream.MoveNextAsync());
        // The status is published at the end of each step, so it may still show the step before this token's.
        await Poll.UntilAsync(() => engine.Status.KvCacheUsage > 0);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => { while (await stream.MoveNextAsync()) { } });
        await stream.DisposeAsync();

        await Poll.UntilAsync(() => engine.Status is { RunningRequests: 0, KvCacheUsage: 0 });
    }

    [Fact]
    public async Task ExpiredDeadline_EndsTheRequest_WithDeadlineExceeded()
    {
        await using var engine = EngineFixture.Start();
        var request = EngineFixture.Greedy(FixtureInputs[0], 100) with { Deadline = DateTimeOffset.UtcNow.AddMilliseconds(-1) };

        await Assert.ThrowsAsync<DeadlineExceededException>(() => EngineFixture.Collect(engine, request));
        await Poll.UntilAsync(() => engine.Status is { RunningRequests: 0, KvCacheUsage: 0 });
    }

    [Theory]
    [InlineData(0, "max_new_tokens")]
    [InlineData(100000, "max_new_tokens")]
    public async Task OutOfRangeMaxNewTokens_IsRefused_NamingTheField(int maxNewTokens, string field)
    {
        await using var engine = EngineFixture.Start();
        var error = await Assert.ThrowsAsync<RequestValidationException>(
            () => EngineFixture.Collect(engine, EngineFixture.Greedy(FixtureInputs[0], maxNewTokens)));
        Assert.Equal(field, error.Field);
    }

    [Fact]
    public async Task PromptTokenOutsideVocabulary_IsRefused()
    {
        await using var engine = EngineFixture.Start();
        var error = await Assert.ThrowsAsync<RequestValidationException>(
            () => EngineFixture.Collect(engine, EngineFixture.Greedy([5, 1000], 4)));
        Assert.Equal("prompt_token_ids", error.Field);
    }

    [Fact]
    public async Task StopTokenId_BeyondTheTokenizersVocabulary_IsRefused()
    {
        // llama-tiny's head has 1000 ids, this tokenizer 19: the sampler draws only below 19 (a head padded beyond its
        // tokenizer, as Qwen's and Phi's are), so stop id 500 could never stop anything and the request would run to its limit.
        using var directory = new TemporaryDirectory();
        directory.Write("tokenizer.json", TokenizerJsonTests.TinyBpe(TokenizerJsonTests.Gpt2ByteLevel()).ToJsonString());
        await using var engine = EngineFixture.Start(tokenizer: TokenizerLoader.Load(directory.Path));

        var error = await Assert.ThrowsAsync<RequestValidationException>(
            () => EngineFixture.Collect(engine, EngineFixture.Greedy([5, 6], 4) with { StopTokenIds = [18, 500] }));
        var (_, final) = await EngineFixture.Collect(engine, EngineFixture.Greedy([5, 6], 4) with { StopTokenIds = [18] });

        Assert.Equal("stop_token_ids", error.Field);
        Assert.Contains("500", error.Message, StringComparison.Ordinal);
        Assert.Equal(FinishReason.Length, final.Reason);
    }

    [Fact]
    public async Task UnknownAdapter_IsRefused_WithAdapterNotFound()
    {
        await using var engine = EngineFixture.Start();
        await Assert.ThrowsAsync<AdapterNotFoundException>(
            () => EngineFixture.Collect(engine, EngineFixture.Greedy(FixtureInputs[0], 4, adapter: "nope")));
    }

    [Fact]
    public async Task LongPrompt_IsChunked_AndStillExact()
    {
        await using var engine = EngineFixture.Start(new EngineOptions { KvCacheBytes = 8L * 1024 * 1024, MaxBatchTokens = 4, MaxBatchRows = 4 });
        var expected = Fixtures.Case("llama-tiny", null).GetProperty("greedy")[2].EnumerateArray().Select(t => t.GetInt32()).ToArray();

        var (deltas, _) = await EngineFixture.Collect(engine, EngineFixture.Greedy(FixtureInputs[2], 8));

        Assert.Equal(expected, EngineFixture.TokenIds(deltas));
    }

    [Fact]
    public async Task FullKvCache_PreemptsAndRecomputes_AndEveryRequestStillGetsItsSoloOutput()
    {
        // llama-tiny: 2 layers x 2 KV heads x 16 dims x K and V x 4 bytes = 512 bytes per token; 160 slots hold two full
        // contexts of this test (prompt up to 13 + 60 new tokens), so eight concurrent requests must take turns.
        var options = new EngineOptions { KvCacheBytes = 160 * 512, KvBlockSize = 16, MaxContextTokens = 80 };
        await using var engine = EngineFixture.Start(options);
        var requests = Enumerable.Range(0, 8).Select(i => EngineFixture.Greedy(FixtureInputs[i % 3].Skip(i % 2).ToArray(), 60)).ToArray();
        var alone = new List<int[]>();
        foreach (var request in requests)
            alone.Add(EngineFixture.TokenIds((await EngineFixture.Collect(engine, request)).Deltas));

        var together = await Task.WhenAll(requests.Select(r => EngineFixture.Collect(engine, r)));

        for (var i = 0; i < requests.Length; i++)
            Assert.Equal(alone[i], EngineFixture.TokenIds(together[i].Deltas));
        await Poll.UntilAsync(() => engine.Status is { RunningRequests: 0, KvCacheUsage: 0 });
    }
}
