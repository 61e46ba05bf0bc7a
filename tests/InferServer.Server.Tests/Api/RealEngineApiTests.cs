using Grpc.Core;
using InferServer.Api.V1;
using InferServer.Engine.Tests;
using InferServer.Server.Tests.Hosting;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Api;

/// <summary>The server as shipped: the real engine on the llama-tiny fixture (GPT-2 tokenizer), configured through Engine:ModelPath.</summary>
[Collection(EngineCollection.Name)]
public sealed class RealEngineApiTests(ITestOutputHelper output)
{
    private Task<TestServer> StartAsync(IDictionary<string, string?>? extra = null)
    {
        var configuration = new Dictionary<string, string?>
        {
            ["Engine:ModelPath"] = EngineFixture.LlamaTinyDirectory,
            ["Engine:KvCacheBytes"] = (8L * 1024 * 1024).ToString(),
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>()) configuration[key] = value;
        return TestServer.StartAsync(output, runtime: null, configuration);
    }

    private static GenerateRequest Greedy(int tokens) => new()
    {
        TokenIds = new TokenIds { Ids = { 5, 17, 42, 99 } },
        Params = new GenerationParams { MaxNewTokens = tokens, IgnoreEos = true, Sampling = new SamplingParams { Temperature = 0 } },
    };

    [Fact]
    public async Task GenerateAndGenerateStream_AgreeToken_ForToken()
    {
        await using var server = await StartAsync();

        var whole = await server.Inference.GenerateAsync(Greedy(6));
        using var call = server.Inference.GenerateStream(Greedy(6));
        var streamed = new List<int>();
        GenerateFinal? final = null;
        await foreach (var frame in call.ResponseStream.ReadAllAsync())
        {
            if (frame.FrameCase == GenerateStreamResponse.FrameOneofCase.Delta) streamed.AddRange(frame.Delta.TokenIds);
            else final = frame.Final;
        }

        Assert.Equal(6, whole.TokenIds.Count);
        Assert.Equal(whole.TokenIds, streamed);
        Assert.Equal(FinishReason.Length, whole.FinishReason);
        Assert.Equal(new Usage { PromptTokens = 4, CompletionTokens = 6 }, final!.Usage);
        Assert.Equal(ServedFrom.Base, final.ServedFrom);
        Assert.True(final.Timing.TotalMs >= final.Timing.TimeToFirstTokenMs);
    }

    [Fact]
    public async Task Logprobs_CarryEachTokensBytes_WhichJoinToTheText()
    {
        await using var server = await StartAsync();
        var request = Greedy(8);
        request.Params.Logprobs = true;
        request.Params.TopLogprobs = 2;

        var response = await server.Inference.GenerateAsync(request);

        Assert.Equal(8, response.Logprobs.Count);
        Assert.All(response.Logprobs, token => Assert.Equal(token.TokenBytes, token.TopLogprobs[0].TokenBytes)); // greedy
        // GPT-2 byte-level BPE: the tokens' bytes end to end are the generated text.
        var joined = response.Logprobs.SelectMany(token => token.TokenBytes.ToByteArray()).ToArray();
        Assert.Equal(response.Text, System.Text.Encoding.UTF8.GetString(joined));
    }

    [Fact]
    public async Task CancellingAStream_FreesTheEngine()
    {
        await using var server = await StartAsync();
        using var cancellation = new CancellationTokenSource();

        using var call = server.Inference.GenerateStream(Greedy(1000), cancellationToken: cancellation.Token);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        cancellation.Cancel();

        var engine = (InferServer.Engine.IInferenceEngine)server.Services.GetService(typeof(InferServer.Engine.IInferenceEngine))!;
        await Poll.UntilAsync(() => Task.FromResult(engine.Status.RunningRequests == 0 && engine.Status.WaitingRequests == 0));
    }

    [Fact]
    public async Task ClassifyOnACausalModel_IsFailedPrecondition()
    {
        // (Chat is covered on the scripted engine: llama-tiny's 1000-token vocabulary cannot hold GPT-2's ids for text.)
        await using var server = await StartAsync();

        var classify = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.ClassifyAsync(new ClassifyRequest { Texts = { "x" } }));
        Assert.Equal(StatusCode.FailedPrecondition, classify.StatusCode);
    }

    [Fact]
    public async Task UnknownAdapter_IsNotFound_AndAPromptBeyondTheVocabulary_IsInvalidArgument()
    {
        await using var server = await StartAsync();

        var adapter = await Assert.ThrowsAsync<RpcException>(async () =>
            await server.Inference.GenerateAsync(new GenerateRequest { Adapter = "missing", TokenIds = new TokenIds { Ids = { 5, 6 } } }));
        Assert.Equal(StatusCode.NotFound, adapter.StatusCode);

        var vocabulary = await Assert.ThrowsAsync<RpcException>(async () =>
            await server.Inference.GenerateAsync(new GenerateRequest { TokenIds = new TokenIds { Ids = { 5_000_000 } } }));
        Assert.Equal(StatusCode.InvalidArgument, vocabulary.StatusCode);
    }

    [Fact]
    public async Task TinyQueue_RefusesWithResourceExhausted()
    {
        await using var server = await StartAsync(new Dictionary<string, string?> { ["Engine:MaxQueuedRequests"] = "1", ["Engine:MaxBatchRows"] = "1" });
        using var cancellation = new CancellationTokenSource();

        // Each call holds its place until the engine admits it; with one row running a 1000-token generation, the
        // first queued request stays queued and the next is refused at once.
        using var running = server.Inference.GenerateStream(Greedy(1000), cancellationToken: cancellation.Token);
        Assert.True(await running.ResponseStream.MoveNext(CancellationToken.None));
        using var queued = server.Inference.GenerateStream(Greedy(1000), cancellationToken: cancellation.Token);
        var engine = (InferServer.Engine.IInferenceEngine)server.Services.GetService(typeof(InferServer.Engine.IInferenceEngine))!;
        await Poll.UntilAsync(() => Task.FromResult(engine.Status.WaitingRequests == 1));

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(Greedy(2)));
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        cancellation.Cancel();
    }

    [Fact]
    public async Task Metrics_AfterTraffic_CountTheRequestAndTheEngineTokens()
    {
        await using var server = await StartAsync();
        await server.Inference.GenerateAsync(Greedy(4));

        var metrics = await server.Http.GetStringAsync("/metrics");

        Assert.Contains(metrics.Split('\n'), line => line.StartsWith("inferserver_requests_total{", StringComparison.Ordinal)
            && line.Contains("adapter=\"(base)\"") && line.Contains("rpc=\"inferserver.v1.Inference/Generate\""));
        Assert.Contains(metrics.Split('\n'), line => line.StartsWith("inferserver_time_to_first_token", StringComparison.Ordinal));
    }
}
