using Grpc.Net.Client;
using InferServer.Api.V1;

namespace InferServer.Server.Tests.Api.OpenAi;

/// <summary>The two front doors are one server: the same greedy request gives the same tokens through either.</summary>
[Collection(OpenAiServerCollection.Name)]
public sealed class OpenAiGrpcParityTests(OpenAiServerFixture fixture)
{
    private OpenAiTestServer Server => fixture.Server;

    private static GenerationParams GreedyParams(int tokens) => new()
    {
        MaxNewTokens = tokens,
        IgnoreEos = true,
        Sampling = new SamplingParams { Temperature = 0 },
    };

    [Fact]
    public async Task GreedyCompletion_EqualsGrpcGenerate()
    {
        using var channel = GrpcChannel.ForAddress(Server.GrpcAddress);
        var grpc = await new Inference.InferenceClient(channel).GenerateAsync(
            new GenerateRequest { Text = "The quick brown fox", Params = GreedyParams(10) });

        var (status, body) = await Server.PostAsync("v1/completions",
            new { model = OpenAiTestServer.ServedName, prompt = "The quick brown fox", max_tokens = 10, temperature = 0, ignore_eos = true });

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        Assert.Equal(grpc.Text, (string?)body!["choices"]![0]!["text"]);
        Assert.Equal(grpc.Usage.PromptTokens, (int)body["usage"]!["prompt_tokens"]!);
        Assert.Equal(grpc.Usage.CompletionTokens, (int)body["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task GreedyChat_EqualsGrpcChat()
    {
        using var channel = GrpcChannel.ForAddress(Server.GrpcAddress);
        var request = new ChatRequest { Params = GreedyParams(7) };
        request.Messages.Add(new ChatMessage { Role = "user", Content = "Tell me a story." });
        var grpc = await new Inference.InferenceClient(channel).ChatAsync(request);

        var (status, body) = await Server.PostAsync("v1/chat/completions", new
        {
            model = OpenAiTestServer.ServedName,
            messages = new[] { new { role = "user", content = "Tell me a story." } },
            max_tokens = 7,
            temperature = 0,
            ignore_eos = true,
        });

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        Assert.Equal(grpc.Text, (string?)body!["choices"]![0]!["message"]!["content"]);
        Assert.Equal(grpc.Usage.PromptTokens, (int)body["usage"]!["prompt_tokens"]!);
    }
}
