using InferServer.Server.Api;
using InferServer.Server.Api.OpenAi;

namespace InferServer.Server.Tests.Api.Tools;

/// <summary>Each family's tool-call syntax: which template teaches it, how a reply parses, where a streamed call may begin.</summary>
public sealed class ToolCallFormatTests
{
    private static readonly IReadOnlySet<string> Names = new HashSet<string> { "get_weather", "get_time" };

    private static string Template(string name) =>
        File.ReadAllText(RepositoryFiles.Path("tests", "InferServer.Jinja.Tests", "ChatTemplates", name + ".jinja"));

    [Theory]
    [InlineData("qwen2.5-7b-instruct", "hermes")]
    [InlineData("qwen3-0.6b", "hermes")]
    [InlineData("llama-3.3-70b-instruct", "llama3_json")]
    [InlineData("mistral-nemo-instruct-2407", "mistral")]
    [InlineData("zephyr-7b-beta", null)]
    [InlineData("mistral-7b-instruct-v0.1", null)]
    [InlineData("gemma-2-2b-it", null)]
    public void TheFormat_IsTheSyntaxTheTemplateWrites(string template, string? format) =>
        Assert.Equal(format, ToolCallFormat.Of(Template(template))?.Name);

    [Fact]
    public void Hermes_ReadsTextThenEveryCall()
    {
        var parsed = ToolCallFormat.Hermes.Parse(
            "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>", Names);

        Assert.NotNull(parsed);
        Assert.Equal("Let me look.", parsed.Value.Content);
        Assert.Equal(["get_weather", "get_time"], parsed.Value.Calls.Select(call => call.Name));
        Assert.Equal("{\"city\": \"Paris\"}", parsed.Value.Calls[0].Arguments);
        Assert.All(parsed.Value.Calls, call => Assert.StartsWith("call_", call.Id));
        Assert.NotEqual(parsed.Value.Calls[0].Id, parsed.Value.Calls[1].Id);
    }

    [Theory]
    [InlineData("Just text.")]
    [InlineData("<tool_call>\n{\"name\": \"launch\", \"arguments\": {}}\n</tool_call>")]
    [InlineData("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \"Paris\"}\n</tool_call>")]
    [InlineData("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Pa")]
    [InlineData("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call> and then some words")]
    public void Hermes_AnythingButCleanCallsOfOfferedTools_IsText(string reply) => Assert.Null(ToolCallFormat.Hermes.Parse(reply, Names));

    [Theory]
    [InlineData(" {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}", "get_weather")]
    [InlineData("{\"name\": \"get_time\", \"arguments\": {}}", "get_time")]
    [InlineData("{\"name\": \"get_time\"}", null)]
    [InlineData("The weather is fine.", null)]
    public void Llama3_ReadsAReplyThatIsOneJsonCall(string reply, string? name) =>
        Assert.Equal(name, ToolCallFormat.Llama3Json.Parse(reply, Names)?.Calls.Single().Name);

    [Theory]
    [InlineData("[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}]", 1)]
    [InlineData("[{\"name\": \"get_weather\", \"arguments\": {}}, {\"name\": \"get_time\", \"arguments\": {}}]", 2)]
    [InlineData("[]", 0)]
    [InlineData("[1, 2]", 0)]
    public void Mistral_ReadsItsListOfCalls_WithOrWithoutTheMarkerText(string reply, int calls)
    {
        var parsed = ToolCallFormat.Mistral.Parse(reply, Names);
        Assert.Equal(calls, parsed?.Calls.Count ?? 0);
        Assert.All(parsed?.Calls ?? [], call => Assert.Matches("^[A-Za-z0-9]{9}$", call.Id));
    }

    [Fact]
    public void ToolUse_WithoutParallelCalls_KeepsTheFirstCall()
    {
        var reply = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
        Assert.Equal(2, new ToolUse(ToolCallFormat.Hermes, Names, Forced: false, Parallel: true).Parse(reply)!.Value.Calls.Count);
        Assert.Equal("get_weather", new ToolUse(ToolCallFormat.Hermes, Names, Forced: false, Parallel: false).Parse(reply)!.Value.Calls.Single().Name);
    }

    [Fact]
    public void AStreamedHermesReply_SendsTheTextAtOnce_HoldsAPossibleTag_AndEndsWithTheCall()
    {
        var stream = new ToolCallStream(new ToolUse(ToolCallFormat.Hermes, Names, Forced: false, Parallel: true));

        Assert.Equal("Checking ", stream.Append("Checking "));
        Assert.Equal("now", stream.Append("now<tool_"));
        Assert.Equal("", stream.Append("call>\n{\"name\": \"get_weather\", "));
        Assert.Equal("", stream.Append("\"arguments\": {\"city\": \"Lisbon, Portugal\"}}\n</tool_call>"));
        var (rest, calls) = stream.Finish(Engine.FinishReason.EndOfSequence);

        Assert.Equal("", rest);
        var deltas = ToolCallStream.Deltas(calls).ToList();
        Assert.Equal(calls[0].Id, deltas[0].Id);
        Assert.Equal("get_weather", deltas[0].Function.Name);
        Assert.True(deltas.Count > 2, "long arguments come in several pieces");
        Assert.All(deltas.Skip(1), delta => Assert.Null(delta.Id));
        Assert.Equal("{\"city\": \"Lisbon, Portugal\"}", string.Concat(deltas.Select(delta => delta.Function.Arguments)));
    }

    [Fact]
    public void AStreamedTagThatIsNotACall_IsSentAsTextAtTheEnd()
    {
        var stream = new ToolCallStream(new ToolUse(ToolCallFormat.Hermes, Names, Forced: false, Parallel: true));

        Assert.Equal("a ", stream.Append("a <tool_call> not json"));
        var (rest, calls) = stream.Finish(Engine.FinishReason.Stop);

        Assert.Equal("<tool_call> not json", rest);
        Assert.Empty(calls);
    }

    [Fact]
    public void ACallCutByMaxTokens_IsText()
    {
        var stream = new ToolCallStream(new ToolUse(ToolCallFormat.Llama3Json, Names, Forced: true, Parallel: true));
        Assert.Equal("", stream.Append("{\"name\": \"get_time\", \"parameters\": {}}"));

        var (rest, calls) = stream.Finish(Engine.FinishReason.Length);

        Assert.Equal("{\"name\": \"get_time\", \"parameters\": {}}", rest);
        Assert.Empty(calls);
    }

    [Fact]
    public void TheForcedCallSchema_AllowsExactlyTheOfferedTools()
    {
        var tools = new[]
        {
            new FunctionTool("get_weather", "", """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""),
            new FunctionTool("get_time", "", ""),
        };
        var grammar = Kernels.Structured.JsonSchemaCompiler.Compile(ToolCallFormat.Mistral.CallSchema(tools), "", "");

        Assert.True(grammar.Start.Advance("[{\"name\":\"get_time\",\"arguments\":{}}]"u8) is { IsAccepting: true });
        Assert.True(grammar.Start.Advance("[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"x\"}}]"u8) is { IsAccepting: true });
        Assert.Null(grammar.Start.Advance("[{\"name\":\"get_weather\",\"arguments\":{}}]"u8));
        Assert.Null(grammar.Start.Advance("[{\"name\":\"rm\""u8));
    }

    [Fact]
    public void TheForcedCallSchema_ResolvesEachToolsReferencesInsideItsOwnParameters()
    {
        // Pydantic writes nested models as $defs and $ref; "#" is the parameters' own root, not the wrapped call's.
        var tools = new[]
        {
            new FunctionTool(
                "book", "",
                """{"type":"object","properties":{"guest":{"$ref":"#/$defs/Guest"}},"required":["guest"],"$defs":{"Guest":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}}"""),
            new FunctionTool(
                "tree", "",
                """{"type":"object","properties":{"child":{"$ref":"#"}},"additionalProperties":false}"""),
        };
        var grammar = Kernels.Structured.JsonSchemaCompiler.Compile(ToolCallFormat.Hermes.CallSchema(tools), "", "");

        Assert.True(grammar.Start.Advance("{\"name\":\"book\",\"arguments\":{\"guest\":{\"name\":\"Ada\"}}}"u8) is { IsAccepting: true });
        Assert.Null(grammar.Start.Advance("{\"name\":\"book\",\"arguments\":{\"guest\":{}}}"u8));
        Assert.True(grammar.Start.Advance("{\"name\":\"tree\",\"arguments\":{\"child\":{\"child\":{}}}}"u8) is { IsAccepting: true });
        Assert.Null(grammar.Start.Advance("{\"name\":\"tree\",\"arguments\":{\"child\":{\"name\""u8));
    }
}
