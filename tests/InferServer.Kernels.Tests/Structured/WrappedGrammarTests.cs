using System.Text;
using InferServer.Kernels.Structured;

namespace InferServer.Kernels.Tests.Structured;

/// <summary>A value between fixed texts (a tool call in Hermes' syntax): the texts byte for byte, the value by its schema.</summary>
public sealed class WrappedGrammarTests
{
    private const string Call = """{"type":"object","properties":{"name":{"const":"get_weather"},"arguments":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}},"required":["name","arguments"],"additionalProperties":false}""";

    private static GrammarState? Walk(string text) =>
        JsonSchemaCompiler.Compile(Call, "<tool_call>\n", "\n</tool_call>").Start.Advance(Encoding.UTF8.GetBytes(text));

    [Theory]
    [InlineData("<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call>", true)]
    [InlineData("<tool_call>\n{\"arguments\": {\"city\": \"\"}, \"name\": \"get_weather\"}\n</tool_call>", true)]
    [InlineData("{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}", false)]
    [InlineData("<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call>", false)]
    [InlineData("<tool_call>\n{\"name\":\"get_time\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call>", false)]
    [InlineData("<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{}}\n</tool_call>", false)]
    [InlineData("<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call>\n", false)]
    public void TheFixedTexts_AreWrittenExactly_AroundAValidValue(string text, bool valid) =>
        Assert.Equal(valid, Walk(text) is { IsAccepting: true });

    [Fact]
    public void TheValueAlone_IsNotComplete_UntilTheClosingTextIsWritten()
    {
        var open = Walk("<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"P\"}}");
        Assert.NotNull(open);
        Assert.False(open.IsAccepting);
        var closed = open.Advance(Encoding.UTF8.GetBytes("\n</tool_call>"));
        Assert.True(closed is { IsFinished: true });
    }

    [Fact]
    public void EqualWrappings_AreOneCachedGrammar_AndTheBareSchemaAnother()
    {
        var wrapped = JsonGrammarCache.Get(Call, "<tool_call>\n", "\n</tool_call>");
        Assert.Same(wrapped, JsonGrammarCache.Get(Call, "<tool_call>\n", "\n</tool_call>"));
        Assert.NotSame(wrapped, JsonGrammarCache.Get(Call));
    }
}
