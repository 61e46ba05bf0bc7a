using System.Text.Json;
using InferServer.Api.V1;
using InferServer.Engine;
using InferServer.Server.Api;

namespace InferServer.Server.Tests.Api.Tools;

/// <summary>
/// A chat request with tools, as the API receives it (tools in OpenAI's form, tool calls with JSON-text arguments, tool
/// results with their call id), renders through the model's own template exactly as jinja2 rendered the same
/// conversation in the Jinja fixtures (tests/InferServer.Jinja.Tests/chat_template_fixtures.json) — the variables vLLM
/// hands apply_chat_template — and the built-ins render tools in their own forms.
/// </summary>
public sealed class ToolChatTemplateTests
{
    private static readonly Lazy<JsonElement> Fixtures = new(() => JsonDocument.Parse(
        File.ReadAllText(RepositoryFiles.Path("tests", "InferServer.Jinja.Tests", "chat_template_fixtures.json"))).RootElement);

    [Theory]
    [InlineData("qwen2.5-7b-instruct", "tools_offered")]
    [InlineData("qwen2.5-7b-instruct", "tools_system")]
    [InlineData("qwen2.5-7b-instruct", "tool_round_trip")]
    [InlineData("qwen2.5-7b-instruct", "tool_answered")]
    [InlineData("qwen3-0.6b", "tool_round_trip")]
    [InlineData("llama-3.3-70b-instruct", "tools_offered")]
    [InlineData("llama-3.3-70b-instruct", "tool_round_trip")]
    [InlineData("mistral-nemo-instruct-2407", "tools_offered")]
    [InlineData("mistral-nemo-instruct-2407", "tool_answered")]
    public void TheModelsTemplate_RendersAToolConversation_AsJinja2Did(string templateName, string conversation)
    {
        var root = Fixtures.Value;
        var template = root.GetProperty("templates").EnumerateArray().Single(t => t.GetProperty("name").GetString() == templateName);
        var fixture = root.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("template").GetString() == templateName
            && c.GetProperty("conversation").GetString() == conversation && !c.GetProperty("variables").TryGetProperty("enable_thinking", out _));
        var model = new EngineModelInfo("m", "llama", ModelKind.TextGeneration, 4096, template.GetProperty("template").GetString(), [],
            BosToken: template.GetProperty("bos_token").GetString(), EosToken: template.GetProperty("eos_token").GetString());

        var prompt = ChatTemplates.Render(GrpcChat.ToConversation(RequestOf(fixture.GetProperty("variables"))), model, new ApiOptions());

        Assert.Equal(fixture.GetProperty("expected").GetString(), prompt.Text);
        Assert.Equal(ToolCallFormat.Of(model.ChatTemplate!), prompt.ToolFormat);
        Assert.NotNull(prompt.Tools);
    }

    [Fact]
    public void BuiltInChatml_OffersToolsInHermesTags_AndRendersCallsAndResults()
    {
        var request = new ChatRequest { ChatTemplate = "chatml" };
        request.Tools.Add(new Tool { Name = "get_time", Parameters = """{"type":"object","properties":{"city":{"type":"string"}}}""" });
        request.Messages.Add(new ChatMessage { Role = "user", Content = "Time in Oslo?" });
        request.Messages.Add(new ChatMessage { Role = "assistant", ToolCalls = { new ToolCall { Id = "c1", Name = "get_time", Arguments = """{"city":"Oslo"}""" } } });
        request.Messages.Add(new ChatMessage { Role = "tool", ToolCallId = "c1", Content = "09:00" });

        var prompt = ChatTemplates.Render(GrpcChat.ToConversation(request), Model(chatTemplate: null), new ApiOptions());

        Assert.Equal("<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            + """{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}"""
            + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
            + "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\nTime in Oslo?<|im_end|>\n"
            + "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\n<tool_response>\n09:00\n</tool_response><|im_end|>\n<|im_start|>assistant\n", prompt.Text);
        Assert.Equal("chatml", prompt.Template);
        Assert.Same(ToolCallFormat.Hermes, prompt.ToolFormat);
    }

    [Fact]
    public void BuiltInChatml_WithoutTools_IsUnchanged()
    {
        var request = new ChatRequest { Messages = { new ChatMessage { Role = "system", Content = "S" }, new ChatMessage { Role = "user", Content = "U" } } };

        var prompt = ChatTemplates.Render(GrpcChat.ToConversation(request), Model(chatTemplate: null), new ApiOptions());

        Assert.Equal("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n", prompt.Text);
        Assert.Null(prompt.ToolFormat);
        Assert.Null(prompt.Tools);
    }

    [Fact]
    public void BuiltInLlama3_OffersToolsAsLlama33Does()
    {
        var request = new ChatRequest { ChatTemplate = "llama3", Tools = { new Tool { Name = "get_time" } } };
        request.Messages.Add(new ChatMessage { Role = "user", Content = "Time?" });

        var prompt = ChatTemplates.Render(GrpcChat.ToConversation(request), Model(chatTemplate: null), new ApiOptions());

        Assert.StartsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n", prompt.Text);
        Assert.Contains("Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.", prompt.Text);
        Assert.EndsWith("Time?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", prompt.Text);
        Assert.Same(ToolCallFormat.Llama3Json, prompt.ToolFormat);
    }

    [Fact]
    public void AModelTemplateWithoutToolSyntax_IsRefusedWhenToolsAreOffered()
    {
        var request = new ChatRequest { Tools = { new Tool { Name = "get_time" } }, Messages = { new ChatMessage { Role = "user", Content = "hi" } } };
        var zephyr = File.ReadAllText(RepositoryFiles.Path("tests", "InferServer.Jinja.Tests", "ChatTemplates", "zephyr-7b-beta.jinja"));

        var refused = Assert.Throws<ModelCapabilityException>(() => ChatTemplates.Render(GrpcChat.ToConversation(request), Model(zephyr), new ApiOptions()));

        Assert.Contains("tool-call syntax", refused.Message);
    }

    [Fact]
    public void ToolChoiceNone_RendersTheToolsButReadsNoCalls()
    {
        var request = new ChatRequest
        {
            Tools = { new Tool { Name = "get_time" } },
            ToolChoice = new ToolChoice { Mode = ToolChoiceMode.None },
            Messages = { new ChatMessage { Role = "user", Content = "hi" } },
        };

        var prompt = ChatTemplates.Render(GrpcChat.ToConversation(request), Model(chatTemplate: null), new ApiOptions());

        Assert.Contains("get_time", prompt.Text);
        Assert.Null(prompt.Tools);
    }

    private static EngineModelInfo Model(string? chatTemplate) => new("m", "llama", ModelKind.TextGeneration, 4096, chatTemplate, []);

    // The fixture's variables as the API would carry them: arguments back to JSON text, tools to the proto's fields.
    private static ChatRequest RequestOf(JsonElement variables)
    {
        var request = new ChatRequest();
        foreach (var message in variables.GetProperty("messages").EnumerateArray())
        {
            var chat = new ChatMessage { Role = message.GetProperty("role").GetString()!, Content = message.GetProperty("content").GetString()! };
            if (message.TryGetProperty("tool_calls", out var calls))
            {
                chat.ToolCalls.AddRange(calls.EnumerateArray().Select(call => new ToolCall
                {
                    Id = call.GetProperty("id").GetString()!,
                    Name = call.GetProperty("function").GetProperty("name").GetString()!,
                    Arguments = call.GetProperty("function").GetProperty("arguments").GetRawText(),
                }));
            }

            if (message.TryGetProperty("tool_call_id", out var id))
            {
                chat.ToolCallId = id.GetString()!;
            }

            request.Messages.Add(chat);
        }
        foreach (var tool in variables.GetProperty("tools").EnumerateArray())
        {
            var function = tool.GetProperty("function");
            request.Tools.Add(new Tool
            {
                Name = function.GetProperty("name").GetString()!,
                Description = function.TryGetProperty("description", out var description) ? description.GetString()! : "",
                Parameters = function.TryGetProperty("parameters", out var parameters) ? parameters.GetRawText() : "",
            });
        }
        return request;
    }
}
