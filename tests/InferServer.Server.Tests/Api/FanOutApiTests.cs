using Grpc.Core;
using InferServer.Api.V1;
using InferServer.Engine.Tests;
using InferServer.Server.Tests.Hosting;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Api;

/// <summary>
/// gRPC fan-out (GenerateRequest.adapters) on the real engine with the llama-tiny fixture adapters: one completion per
/// adapter, each what that adapter gives alone, over Generate and GenerateStream; the single `adapter` field unchanged.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class FanOutApiTests(ITestOutputHelper output)
{
    private static readonly string[] Adapters = ["qv-r8", "", "all-r16", "qv-r4-layer1"];

    private Task<TestServer> StartAsync() => TestServer.StartAsync(output, runtime: null, new Dictionary<string, string?>
    {
        ["Engine:ModelPath"] = EngineFixture.LlamaTinyDirectory,
        ["Engine:KvCacheBytes"] = (8L * 1024 * 1024).ToString(),
        ["Adapters:AdapterRoots:0"] = Path.Combine(ReferenceFixtures.Root, "llama-tiny", "adapters"),
        ["Adapters:MaxRank"] = "16",
        ["Api:MaxFanOutAdapters"] = "4",
    });

    /// <summary>Seeded sampling, so "identical to its solo answer" tests more than greedy would.</summary>
    private static GenerateRequest Request(string adapter = "", params string[] adapters)
    {
        var request = new GenerateRequest
        {
            Adapter = adapter,
            TokenIds = new TokenIds { Ids = { 5, 17, 42, 99, 3 } },
            Params = new GenerationParams
            {
                MaxNewTokens = 8,
                IgnoreEos = true,
                Logprobs = true,
                Sampling = new SamplingParams { Temperature = 0.8f, Seed = 1234 },
            },
        };
        request.Adapters.Add(adapters);
        return request;
    }

    [Fact]
    public async Task FanOutGenerate_GivesEachAdapterItsSoloCompletion_InRequestOrder()
    {
        await using var server = await StartAsync();

        var fanOut = await server.Inference.GenerateAsync(Request(adapters: Adapters));

        Assert.Equal(Adapters, fanOut.Completions.Select(c => c.Adapter));
        Assert.Empty(fanOut.TokenIds);
        for (var i = 0; i < Adapters.Length; i++)
        {
            var solo = await server.Inference.GenerateAsync(Request(Adapters[i]));
            var completion = fanOut.Completions[i].Response;
            Assert.Equal(solo.TokenIds, completion.TokenIds);
            Assert.Equal(solo.Text, completion.Text);
            Assert.Equal(solo.Usage, completion.Usage);
            // Same tokens; log-probabilities agree to float32 reassociation (a batch of four runs other matmul shapes than one).
            Assert.All(solo.Logprobs.Zip(completion.Logprobs), pair => Assert.Equal(pair.First.Logprob, pair.Second.Logprob, 1e-4));
        }
        // The adapters really differ, or agreeing with the solo answers would prove nothing.
        Assert.True(fanOut.Completions.Select(c => string.Join(",", c.Response.TokenIds)).Distinct().Count() > 1);
    }

    [Fact]
    public async Task FanOutStream_TagsEveryFrameWithItsCompletion_AndEndsEachWithItsOwnFinal()
    {
        await using var server = await StartAsync();

        using var call = server.Inference.GenerateStream(Request(adapters: Adapters));
        var tokens = Adapters.Select(_ => new List<int>()).ToArray();
        var finals = new GenerateFinal?[Adapters.Length];
        await foreach (var frame in call.ResponseStream.ReadAllAsync())
        {
            Assert.Null(finals[frame.Completion]); // nothing after a completion's final frame
            if (frame.FrameCase == GenerateStreamResponse.FrameOneofCase.Delta) tokens[frame.Completion].AddRange(frame.Delta.TokenIds);
            else finals[frame.Completion] = frame.Final;
        }

        for (var i = 0; i < Adapters.Length; i++)
        {
            var solo = await server.Inference.GenerateAsync(Request(Adapters[i]));
            Assert.Equal(solo.TokenIds, tokens[i]);
            Assert.Equal(new Usage { PromptTokens = 5, CompletionTokens = 8 }, finals[i]!.Usage);
        }
    }

    [Theory]
    [InlineData("qv-r8", new[] { "all-r16" }, StatusCode.InvalidArgument, "leave empty when adapters is set")]
    [InlineData("", new[] { "qv-r8", "all-r16", "qv-r4-layer1", "", "qv-r8" }, StatusCode.InvalidArgument, "exceed the limit of 4")]
    [InlineData("", new[] { "qv-r8", "qv-r8" }, StatusCode.InvalidArgument, "'qv-r8' is named 2 times")]
    [InlineData("", new[] { "qv-r8", "no-such-adapter" }, StatusCode.NotFound, "no-such-adapter")]
    public async Task InvalidFanOut_IsRefusedWhole(string adapter, string[] adapters, StatusCode code, string message)
    {
        await using var server = await StartAsync();

        var error = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(Request(adapter, adapters)));

        Assert.Equal(code, error.StatusCode);
        Assert.Contains(message, error.Status.Detail, StringComparison.Ordinal);
    }
}
