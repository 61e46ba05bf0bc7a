using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using InferServer.Api.V1;
using InferServer.Kernels.Tests.Structured;

namespace InferServer.Server.Tests.Api.OpenAi;

/// <summary>
/// Tool calling through the real server on the demo Llama (random weights, no chat template: the built-in chatml's
/// Hermes tool form). A forced call (tool_choice required or named) must always name an offered tool with arguments that
/// validate against its parameters (JsonSchema.Net), unary and streamed, base and adapter, at every temperature; "auto"
/// falls back to text when the model writes none; bad tools are 400 naming the param, INVALID_ARGUMENT on gRPC.
/// </summary>
[Collection(StructuredServerCollection.Name)]
public sealed class OpenAiToolCallingTests(StructuredServerFixture fixture)
{
    private OpenAiTestServer Server => fixture.Server;

    private const string WeatherParameters =
        """{"type":"object","properties":{"city":{"type":"string","maxLength":16},"unit":{"type":"string","enum":["c","f"]}},"required":["city"],"additionalProperties":false}""";

    private const string TimeParameters = """{"type":"object","properties":{"zone":{"type":"integer"}},"required":["zone"],"additionalProperties":false}""";

    private static readonly Dictionary<string, string> Parameters = new() { ["get_weather"] = WeatherParameters, ["get_time"] = TimeParameters };

    private static JsonArray Tools() => new(
        Tool("get_weather", "Current weather in a city", WeatherParameters),
        Tool("get_time", "Local time in a zone", TimeParameters));

    private static JsonObject Tool(string name, string description, string parameters) => new()
    {
        ["type"] = "function",
        ["function"] = new JsonObject { ["name"] = name, ["description"] = description, ["parameters"] = JsonNode.Parse(parameters) },
    };

    private static JsonArray Ask() => new(new JsonObject { ["role"] = "user", ["content"] = "What is the weather in Paris?" });

    private static void AssertValidCall(string name, string arguments, string context)
    {
        Assert.True(Parameters.ContainsKey(name), $"{context}: called {name}");
        using var document = JsonDocument.Parse(arguments);
        Assert.True(SchemaCorpus.Validator(Parameters[name]).Evaluate(document.RootElement).IsValid, $"{context}: {name}({arguments})");
    }

    [Fact]
    public async Task RequiredToolChoice_GivesACallOfAnOfferedTool_WhoseArgumentsValidate_AtEveryTemperature_OnBaseAndAdapter()
    {
        var cases = (from temperature in new[] { 0.0, 0.8, 1.5 }
                     from model in new[] { OpenAiTestServer.ServedName, StructuredServerFixture.Adapter }
                     from seed in new[] { 1, 2, 3 }
                     select (temperature, model, seed)).ToList();
        var results = await Task.WhenAll(cases.Select(async item =>
        {
            var (status, body) = await Server.PostAsync("v1/chat/completions", new JsonObject
            {
                ["model"] = item.model,
                ["messages"] = Ask(),
                ["tools"] = Tools(),
                ["tool_choice"] = "required",
                ["max_tokens"] = 200,
                ["temperature"] = item.temperature,
                ["seed"] = item.seed,
            });
            Assert.True(status == 200, OpenAiTestServer.Show(body));
            return (item, Choice: body!["choices"]![0]!);
        }));

        foreach (var (item, choice) in results.Where(result => (string?)result.Choice["finish_reason"] == "tool_calls"))
        {
            var message = choice["message"]!;
            Assert.Null((string?)message["content"]);
            var call = Assert.Single(message["tool_calls"]!.AsArray())!;
            Assert.StartsWith("call_", (string?)call["id"]);
            Assert.Equal("function", (string?)call["type"]);
            AssertValidCall((string)call["function"]!["name"]!, (string)call["function"]!["arguments"]!, $"T={item.temperature} {item.model} seed {item.seed}");
        }
        Assert.All(results, result => Assert.Contains((string?)result.Choice["finish_reason"], new[] { "tool_calls", "length" }));
        var called = results.Count(result => (string?)result.Choice["finish_reason"] == "tool_calls");
        Assert.True(called >= results.Length * 2 / 3, $"only {called} of {results.Length} replies completed a call");
        Assert.Contains(results, result => result.item.model == StructuredServerFixture.Adapter && (string?)result.Choice["finish_reason"] == "tool_calls");
    }

    [Theory]
    [InlineData("get_time")]
    [InlineData("get_weather")]
    public async Task ANamedToolChoice_StreamsThatCall_IndexIdAndNameFirst_ThenItsArgumentsInPieces(string name)
    {
        var (status, _, events) = await Server.StreamAsync("v1/chat/completions", new JsonObject
        {
            ["model"] = StructuredServerFixture.Adapter,
            ["messages"] = Ask(),
            ["tools"] = Tools(),
            ["tool_choice"] = new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = name } },
            ["max_tokens"] = 200,
            ["temperature"] = 0.8,
            ["seed"] = 4,
            ["stream"] = true,
        });

        Assert.Equal(200, status);
        Assert.Equal("[DONE]", events[^1]);
        var choices = events[..^1].Select(data => JsonNode.Parse(data)!["choices"]![0]!).ToList();
        Assert.Equal("tool_calls", (string?)choices[^1]["finish_reason"]);
        Assert.All(choices, choice => Assert.True(string.IsNullOrEmpty((string?)choice["delta"]!["content"]), "a forced call sends no content"));
        var deltas = choices.Where(choice => choice["delta"]!["tool_calls"] is not null).Select(choice => Assert.Single(choice["delta"]!["tool_calls"]!.AsArray())!).ToList();
        Assert.Equal(0, (int)deltas[0]["index"]!);
        Assert.StartsWith("call_", (string?)deltas[0]["id"]);
        Assert.Equal("function", (string?)deltas[0]["type"]);
        Assert.Equal(name, (string?)deltas[0]["function"]!["name"]);
        Assert.All(deltas.Skip(1), delta => Assert.Null(delta["id"]));
        AssertValidCall(name, string.Concat(deltas.Select(delta => (string?)delta["function"]!["arguments"])), "streamed");
    }

    [Fact]
    public async Task AutoToolChoice_WhenTheModelWritesNoCall_IsPlainContent_UnaryAndStreamed()
    {
        var request = new JsonObject
        {
            ["model"] = OpenAiTestServer.ServedName,
            ["messages"] = Ask(),
            ["tools"] = Tools(),
            ["max_tokens"] = 12,
            ["temperature"] = 0,
            ["ignore_eos"] = true,
        };
        var (status, body) = await Server.PostAsync("v1/chat/completions", request);
        request["stream"] = true;
        var (_, _, events) = await Server.StreamAsync("v1/chat/completions", request);

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        var message = body!["choices"]![0]!["message"]!;
        Assert.Null(message["tool_calls"]);
        Assert.Equal("length", (string?)body["choices"]![0]!["finish_reason"]);
        var streamed = string.Concat(events[..^1].Select(data => (string?)JsonNode.Parse(data)!["choices"]![0]!["delta"]!["content"]));
        Assert.Equal((string?)message["content"], streamed);
    }

    [Fact]
    public async Task AToolResult_ContinuesTheConversation_AndTheReplyIsText_WhenToolChoiceIsNone()
    {
        var (status, body) = await Server.PostAsync("v1/chat/completions", new JsonObject
        {
            ["model"] = OpenAiTestServer.ServedName,
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "user", ["content"] = "What is the weather in Paris?" },
                new JsonObject
                {
                    ["role"] = "assistant",
                    ["content"] = null,
                    ["tool_calls"] = new JsonArray(new JsonObject
                    {
                        ["id"] = "call_1",
                        ["type"] = "function",
                        ["function"] = new JsonObject { ["name"] = "get_weather", ["arguments"] = """{"city":"Paris"}""" },
                    }),
                },
                new JsonObject { ["role"] = "tool", ["tool_call_id"] = "call_1", ["content"] = """{"sky":"clear"}""" }),
            ["tools"] = Tools(),
            ["tool_choice"] = "none",
            ["max_tokens"] = 5,
            ["temperature"] = 0,
            ["ignore_eos"] = true,
        });

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        Assert.Equal("length", (string?)body!["choices"]![0]!["finish_reason"]);
        Assert.NotNull((string?)body["choices"]![0]!["message"]!["content"]);
        Assert.True((int)body["usage"]!["prompt_tokens"]! > 100, "the tools, the call and its result are in the prompt");
    }

    public static TheoryData<string, string, string> BadTools => new()
    {
        { """{"tools":[{"type":"function","function":{"description":"no name"}}]}""", "tools[0].function.name", "required" },
        { """{"tools":[{"type":"function","function":{"name":"has space"}}]}""", "tools[0].function.name", "letters" },
        { """{"tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"a"}}]}""", "tools[1].function.name", "twice" },
        { """{"tools":[{"type":"function","function":{"name":"a","parameters":{"type":"string","pattern":"x"}}}]}""", "tools[0].function.parameters", "pattern" },
        { """{"tools":[{"type":"function","function":{"name":"a","parameters":[1]}}]}""", "tools[0].function.parameters", "object" },
        { """{"tools":[{"type":"retrieval"}]}""", "tools[0].type", "function" },
        { """{"tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":{"type":"function","function":{"name":"b"}}}""", "tool_choice", "not one of" },
        { """{"tool_choice":"required"}""", "tool_choice", "no tools" },
        { """{"tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":"sometimes"}""", "tool_choice", "sometimes" },
        { """{"tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":"required","response_format":{"type":"json_object"}}""", "tool_choice", "response_format" },
        { """{"messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"nope","content":"x"}]}""", "messages[1].tool_call_id", "answers no" },
        { """{"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"x"}]}""", "messages[1].tool_call_id", "required" },
        { """{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"a","arguments":"not json"}}]}]}""", "messages[1].tool_calls[0].function.arguments", "JSON object" },
        { """{"messages":[{"role":"user","content":"hi","tool_calls":[{"id":"c","type":"function","function":{"name":"a","arguments":"{}"}}]}]}""", "messages[0].tool_calls", "assistant" },
    };

    [Theory]
    [MemberData(nameof(BadTools))]
    public async Task BadToolsAndToolMessages_Are400NamingTheParam(string fields, string param, string mentioned)
    {
        var body = new JsonObject
        {
            ["model"] = OpenAiTestServer.ServedName,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }),
        };
        foreach (var (key, value) in JsonNode.Parse(fields)!.AsObject())
        {
            body[key] = value?.DeepClone();
        }

        var (status, error) = await Server.PostAsync("v1/chat/completions", body);

        Assert.True(status == 400, OpenAiTestServer.Show(error));
        Assert.Equal(param, (string?)error!["error"]!["param"]);
        Assert.Contains(mentioned, (string?)error["error"]!["message"]);
    }

    [Fact]
    public async Task MoreToolsThanTheCap_Is400OnTools()
    {
        var tools = new JsonArray([.. Enumerable.Range(0, 65).Select(i => (JsonNode)Tool($"t{i}", "", """{"type":"object"}"""))]);

        var (status, error) = await Server.PostAsync("v1/chat/completions", new JsonObject
        {
            ["model"] = OpenAiTestServer.ServedName,
            ["messages"] = Ask(),
            ["tools"] = tools,
        });

        Assert.Equal(400, status);
        Assert.Equal("tools", (string?)error!["error"]!["param"]);
        Assert.Contains("limit of 64", (string?)error["error"]!["message"]);
    }

    [Fact]
    public async Task GrpcChat_WithARequiredTool_ReturnsTheCall_UnaryAndInTheStreamsFinalFrame_AndRefusesANamelessTool()
    {
        using var channel = GrpcChannel.ForAddress(Server.GrpcAddress);
        var client = new Inference.InferenceClient(channel);
        var request = new ChatRequest
        {
            Adapter = StructuredServerFixture.Adapter,
            Messages = { new ChatMessage { Role = "user", Content = "Time in zone 3?" } },
            Tools = { new Tool { Name = "get_time", Parameters = TimeParameters } },
            ToolChoice = new ToolChoice { Mode = ToolChoiceMode.Required },
            Params = new GenerationParams { MaxNewTokens = 120, Sampling = new SamplingParams { Temperature = 0.8, Seed = 9 } },
        };

        var response = await client.ChatAsync(request);
        Assert.Equal(InferServer.Api.V1.FinishReason.ToolCalls, response.FinishReason);
        var call = Assert.Single(response.ToolCalls);
        AssertValidCall(call.Name, call.Arguments, "grpc");
        Assert.Equal("", response.Text);

        using var stream = client.ChatStream(request);
        GenerateFinal? final = null;
        var raw = "";
        await foreach (var frame in stream.ResponseStream.ReadAllAsync())
        {
            raw += frame.Delta?.Text ?? "";
            final = frame.Final ?? final;
        }
        Assert.StartsWith("<tool_call>\n", raw);
        Assert.Equal(InferServer.Api.V1.FinishReason.ToolCalls, final!.FinishReason);
        AssertValidCall(Assert.Single(final.ToolCalls).Name, final.ToolCalls[0].Arguments, "grpc stream");

        request.Tools[0].Name = "";
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await client.ChatAsync(request));
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains(refused.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations, violation => violation.Field == "tools[0].name");
    }
}
