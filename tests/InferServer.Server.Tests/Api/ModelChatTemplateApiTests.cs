using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using InferServer.Api.V1;
using InferServer.Server.Api.OpenAi;
using InferServer.Server.Tests.Api.OpenAi;
using InferServer.Engine.Tests;
using InferServer.Server.Tests.Hosting;
using InferServer.Engine.Tokenization;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Api;

/// <summary>
/// The real server on a model whose tokenizer_config.json carries a Jinja chat_template: Chat and the OpenAI chat
/// endpoint render it (the response names template "model"), and a conversation the template refuses with
/// raise_exception is INVALID_ARGUMENT (HTTP 400) with the template's message.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class ModelChatTemplateApiTests(ITestOutputHelper output)
{
    // Refuses a system message, as Gemma's does; bos_token must reach it for the generation prompt to appear.
    private const string Template =
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}\n"
        + "{% for message in messages %}\n{{ message['role'] }}: {{ message['content'] | trim }}\n{% endfor %}\n"
        + "{% if add_generation_prompt and bos_token == '<|endoftext|>' %}assistant:{% endif %}";

    // The server names the model after its directory.
    private const string ModelName = "llama-tiny-chat-template";

    private static readonly Lazy<string> ModelDirectory = new(() =>
    {
        var directory = ProcessScratch.Directory(ModelName);
        foreach (var file in Directory.GetFiles(OpenAiTestServer.ModelDirectory))
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)), overwrite: true);
        var configPath = Path.Combine(directory, "tokenizer_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["chat_template"] = Template;
        File.WriteAllText(configPath, config.ToJsonString());
        return directory;
    });

    private Task<TestServer> StartAsync() => TestServer.StartAsync(output, runtime: null, new Dictionary<string, string?>
    {
        ["Engine:ModelPath"] = ModelDirectory.Value,
        ["Engine:KvCacheBytes"] = (8L * 1024 * 1024).ToString(),
    });

    private static ChatRequest Conversation(params (string Role, string Content)[] messages)
    {
        var request = new ChatRequest { Params = new GenerationParams { MaxNewTokens = 3, Sampling = new SamplingParams { Temperature = 0 } } };
        request.Messages.AddRange(messages.Select(message => new ChatMessage { Role = message.Role, Content = message.Content }));
        return request;
    }

    [Fact]
    public async Task Chat_RendersTheModelsJinjaTemplate()
    {
        await using var server = await StartAsync();
        var expectedPrompt = "user: hi\nassistant: hello\nuser: how are you?\nassistant:";
        var expectedTokens = TokenizerLoader.Load(ModelDirectory.Value).Encode(expectedPrompt, addSpecialTokens: false).Count;

        var response = await server.Inference.ChatAsync(Conversation(("user", " hi "), ("assistant", "hello"), ("user", "how are you?")));

        Assert.Equal("model", response.ChatTemplate);
        Assert.Equal(expectedTokens, response.Usage.PromptTokens);
        Assert.Equal(3, response.Usage.CompletionTokens);

        using var http = new HttpClient { BaseAddress = server.Services.GetRequiredService<OpenAiListener>().Address };
        using var answer = await http.PostAsJsonAsync("v1/chat/completions", new
        {
            model = ModelName,
            messages = new[] { new { role = "user", content = " hi " }, new { role = "assistant", content = "hello" }, new { role = "user", content = "how are you?" } },
            max_tokens = 3,
            temperature = 0,
        });
        var body = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!;
        Assert.True(answer.IsSuccessStatusCode, body.ToJsonString());
        Assert.Equal(expectedTokens, (int)body["usage"]!["prompt_tokens"]!);
    }

    [Fact]
    public async Task Chat_AConversationTheTemplateRefuses_IsInvalidArgument_WithItsMessage()
    {
        await using var server = await StartAsync();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await server.Inference.ChatAsync(Conversation(("system", "be brief"), ("user", "hi"))));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("System role not supported", error.Status.Detail);

        using var http = new HttpClient { BaseAddress = server.Services.GetRequiredService<OpenAiListener>().Address };
        using var answer = await http.PostAsJsonAsync("v1/chat/completions", new
        {
            model = ModelName,
            messages = new[] { new { role = "system", content = "be brief" }, new { role = "user", content = "hi" } },
        });
        Assert.Equal(400, (int)answer.StatusCode);
        Assert.Contains("System role not supported", await answer.Content.ReadAsStringAsync());
    }
}
