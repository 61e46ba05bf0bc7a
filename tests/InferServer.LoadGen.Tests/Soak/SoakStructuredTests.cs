using Google.Protobuf.Collections;
using InferServer.Api.V1;
using InferServer.LoadGen.Soak;

namespace InferServer.LoadGen.Tests.Soak;

/// <summary>The soak's judge of structured outputs: what it must pass and what it must count as wrong.</summary>
public sealed class SoakStructuredTests
{
    private static SoakCall Call(long id, SoakCallKind kind) =>
        new(id, kind, SoakFate.Complete, "", null, false, 0, SoakStructured.MaxNewTokens, 1, TimeSpan.Zero, 0, false);

    [Fact]
    public void ConstrainedOutput_PassesOnlyWhenItParsesAndValidatesAgainstItsSchema()
    {
        var objectCall = Call(3, SoakCallKind.Constrained); // {"ok": boolean (required), "n": integer}, nothing else
        Assert.Contains("\"ok\"", SoakStructured.SchemaOf(objectCall));
        Assert.Null(SoakStructured.CheckConstrained(objectCall, """{"ok":true,"n":2}"""));
        Assert.NotNull(SoakStructured.CheckConstrained(objectCall, """{"ok":1}"""));
        Assert.NotNull(SoakStructured.CheckConstrained(objectCall, """{"ok":true,"extra":0}"""));
        Assert.NotNull(SoakStructured.CheckConstrained(objectCall, """{"ok":true"""));
    }

    [Fact]
    public void JsonObjectMode_PassesAnyObjectAndNothingElse()
    {
        var call = Call(0, SoakCallKind.ConstrainedStream);
        Assert.Null(SoakStructured.SchemaOf(call));
        Assert.Null(SoakStructured.CheckConstrained(call, """{"a":[1,"x"]}"""));
        Assert.NotNull(SoakStructured.CheckConstrained(call, "[1]"));
    }

    [Fact]
    public void ForcedToolChoice_NeedsACallWhoseArgumentsValidate()
    {
        var required = Call(0, SoakCallKind.ToolChat);
        Assert.Equal(ToolChoiceMode.Required, SoakStructured.ChoiceOf(required).Mode);
        Assert.NotNull(SoakStructured.CheckToolCalls(required, FinishReason.Stop, []));
        Assert.Null(SoakStructured.CheckToolCalls(required, FinishReason.ToolCalls, Calls(("get_time", """{"city":"Oslo"}"""))));
        Assert.NotNull(SoakStructured.CheckToolCalls(required, FinishReason.ToolCalls, Calls(("get_time", """{"city":5}"""))));
        Assert.NotNull(SoakStructured.CheckToolCalls(required, FinishReason.ToolCalls, Calls(("get_weather", "{}"))));

        var named = Call(2, SoakCallKind.ToolChatStream);
        Assert.Equal("get_time", SoakStructured.ChoiceOf(named).Function);
        Assert.NotNull(SoakStructured.CheckToolCalls(named, FinishReason.ToolCalls, Calls(("set_light", """{"on":true}"""))));
    }

    [Fact]
    public void AutoToolChoice_AcceptsPlainText_ButNotACallOfAnUnknownTool()
    {
        var auto = Call(1, SoakCallKind.ToolChat);
        Assert.Equal(ToolChoiceMode.Auto, SoakStructured.ChoiceOf(auto).Mode);
        Assert.Null(SoakStructured.CheckToolCalls(auto, FinishReason.Stop, []));
        Assert.NotNull(SoakStructured.CheckToolCalls(auto, FinishReason.ToolCalls, Calls(("rm_rf", "{}"))));
    }

    private static RepeatedField<ToolCall> Calls(params (string Name, string Arguments)[] calls)
    {
        var field = new RepeatedField<ToolCall>();
        field.Add(calls.Select((call, i) => new ToolCall { Id = $"call_{i}", Name = call.Name, Arguments = call.Arguments }));
        return field;
    }
}
