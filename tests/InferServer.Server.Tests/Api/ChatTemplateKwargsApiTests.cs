using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using InferServer.Api.V1;
using InferServer.Demo;
using InferServer.Engine.Tokenization;
using InferServer.Server.Api.OpenAi;
using InferServer.Engine.Tests;
using InferServer.Server.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Api;

/// <summary>
/// chat_template_kwargs reach the model's template as variables, as transformers' apply_chat_template(**kwargs) and vLLM
/// pass them: the qwen3 demo (Qwen3's real template) with enable_thinking false opens the answer with an empty think
/// block and with true (or without it) does not, through gRPC Chat and /v1/chat/completions alike; a name the server sets
/// itself is refused.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class ChatTemplateKwargsApiTests(ITestOutputHelper output)
{
    private const string ModelName = "qwen3-chat-template-kwargs";

    private static readonly Lazy<string> ModelDirectory = new(() =>
    {
        var directory = ProcessScratch.Directory(ModelName);
        DemoModelGenerator.Write(directory, DemoModelKind.Qwen3);
        return directory;
    });

    private Task<TestServer> StartAsync() => TestServer.StartAsync(output, runtime: null, new Dictionary<string, string?>
    {
        ["Engine:ModelPath"] = ModelDirectory.Value,
        ["Engine:KvCacheBytes"] = (8L * 1024 * 1024).ToString(),
    });

    private static ChatRequest Hello(Struct? kwargs)
    {
        var request = new ChatRequest
        {
            Params = new GenerationParams { MaxNewTokens = 2, Sampling = new SamplingParams { Temperature = 0 } },
            ChatTemplateKwargs = kwargs,
        };
        request.Messages.Add(new ChatMessage { Role = "user", Content = "Hello!" });
        return request;
    }

    private static int Tokens(string text) => TokenizerLoader.Load(ModelDirectory.Value).Encode(text, addSpecialTokens: false).Count;

    [Fact]
    public async Task Qwen3EnableThinking_BothValues_ReachTheTemplate_ThroughChatAndOpenAiChat()
    {
        await using var server = await StartAsync();
        const string prompt = "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n";
        const string noThinking = prompt + "<think>\n\n</think>\n\n";
        Assert.NotEqual(Tokens(prompt), Tokens(noThinking));

        var plain = await server.Inference.ChatAsync(Hello(null));
        var thinkingOn = await server.Inference.ChatAsync(Hello(new Struct { Fields = { ["enable_thinking"] = Value.ForBool(true) } }));
        var thinkingOff = await server.Inference.ChatAsync(Hello(new Struct { Fields = { ["enable_thinking"] = Value.ForBool(false) } }));

        Assert.Equal("model", thinkingOff.ChatTemplate);
        Assert.Equal(Tokens(prompt), plain.Usage.PromptTokens);
        Assert.Equal(Tokens(prompt), thinkingOn.Usage.PromptTokens);
        Assert.Equal(Tokens(noThinking), thinkingOff.Usage.PromptTokens);

        using var http = new HttpClient { BaseAddress = server.Services.GetRequiredService<OpenAiListener>().Address };
        foreach (var (enableThinking, expected) in new[] { (false, noThinking), (true, prompt) })
        {
            using var answer = await http.PostAsJsonAsync("v1/chat/completions", new
            {
                model = ModelName,
                messages = new[] { new { role = "user", content = "Hello!" } },
                max_tokens = 2,
                temperature = 0,
                chat_template_kwargs = new { enable_thinking = enableThinking },
            });
            var body = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!;
            Assert.True(answer.IsSuccessStatusCode, body.ToJsonString());
            Assert.Equal(Tokens(expected), (int)body["usage"]!["prompt_tokens"]!);
        }
    }

    [Fact]
    public async Task ChatTemplateKwargs_NamingAVariableTheServerSets_IsInvalidArgument()
    {
        await using var server = await StartAsync();

        var error = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.ChatAsync(
            Hello(new Struct { Fields = { ["add_generation_prompt"] = Value.ForBool(false) } })));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("chat_template_kwargs.add_generation_prompt", error.Status.Detail);

        using var http = new HttpClient { BaseAddress = server.Services.GetRequiredService<OpenAiListener>().Address };
        using var answer = await http.PostAsJsonAsync("v1/chat/completions", new
        {
            model = ModelName,
            messages = new[] { new { role = "user", content = "Hello!" } },
            chat_template_kwargs = "enable_thinking=false",
        });
        Assert.Equal(400, (int)answer.StatusCode);
        Assert.Contains("chat_template_kwargs", await answer.Content.ReadAsStringAsync());
    }
}
