using Grpc.Net.Client;
using InferServer.Api.V1;

namespace InferServer.Server.Tests.Api.OpenAi;

/// <summary>A repeated prompt is served from the prefix cache, and both front doors say how much of it was.</summary>
[Collection(OpenAiServerCollection.Name)]
public sealed class OpenAiPrefixCacheTests(OpenAiServerFixture fixture)
{
    private OpenAiTestServer Server => fixture.Server;

    [Fact]
    public async Task RepeatedPrompt_ReportsItsFullBlocksAsCachedTokens_ThroughOpenAiAndGrpc()
    {
        // 40 ids no other test sends: two full blocks of 16 can be reused, the last 8 tokens are always computed.
        var prompt = Enumerable.Range(0, 40).Select(i => 900 - 7 * i).ToArray();
        object Request() => new { model = OpenAiTestServer.ServedName, prompt, max_tokens = 3, temperature = 0, ignore_eos = true };

        var (firstStatus, first) = await Server.PostAsync("v1/completions", Request());
        var (secondStatus, second) = await Server.PostAsync("v1/completions", Request());
        using var channel = GrpcChannel.ForAddress(Server.GrpcAddress);
        var grpc = await new Inference.InferenceClient(channel).GenerateAsync(new GenerateRequest
        {
            TokenIds = new TokenIds { Ids = { prompt } },
            Params = new GenerationParams { MaxNewTokens = 3, IgnoreEos = true, Sampling = new SamplingParams { Temperature = 0 } },
        });

        Assert.True(firstStatus == 200, OpenAiTestServer.Show(first));
        Assert.True(secondStatus == 200, OpenAiTestServer.Show(second));
        Assert.Equal(0, (int)first!["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
        Assert.Equal(32, (int)second!["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
        Assert.Equal((string?)first["choices"]![0]!["text"], (string?)second["choices"]![0]!["text"]);
        Assert.Equal(32, grpc.Usage.CachedPromptTokens);
        Assert.Equal(40, grpc.Usage.PromptTokens);
    }
}
