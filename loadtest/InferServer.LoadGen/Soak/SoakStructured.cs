using System.Text.Json;
using Google.Protobuf.Collections;
using InferServer.Api.V1;
using Json.Schema;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// The soak's structured calls (issue 23): constrained generation under a handful of fixed schemas (and JSON object
/// mode), and chat with tools under tool_choice required, named and auto. A call's variant follows from its position in
/// the plan, so the plan's random draws are the same as before these kinds existed. Every completed output is checked
/// with JsonSchema.Net, not the server's own code: a constrained output must parse and validate against its schema, a
/// forced tool call's arguments against its tool's parameters.
/// </summary>
public static class SoakStructured
{
    /// <summary>
    /// Tokens a constrained call may generate: enough for most values of the schemas below to complete on the random demo
    /// model, few enough that "length" (an unfinished value, not checked) still happens.
    /// </summary>
    public const int MaxNewTokens = 48;

    /// <summary>
    /// Tokens a tool chat may generate: a forced Hermes call spends many of them on its fixed <c>&lt;tool_call&gt;</c>
    /// frame and the tool's name, which the random model writes a few bytes at a time (48 let 1 in 100 complete).
    /// </summary>
    public const int ToolMaxNewTokens = 128;

    /// <summary>The tokens a structured call of <paramref name="kind"/> may generate.</summary>
    public static int TokensFor(SoakCallKind kind) => kind is SoakCallKind.ToolChat or SoakCallKind.ToolChatStream ? ToolMaxNewTokens : MaxNewTokens;

    /// <summary>The constrained calls' formats: null is JSON object mode.</summary>
    public static readonly IReadOnlyList<string?> Schemas =
    [
        null,
        """{"type":"boolean"}""",
        """{"enum":["red","green","blue",null,7]}""",
        """{"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer"}},"required":["ok"],"additionalProperties":false}""",
        """{"type":"array","items":{"type":"string","maxLength":4},"minItems":1,"maxItems":3}""",
        """{"anyOf":[{"type":"null"},{"$ref":"#/$defs/point"}],"$defs":{"point":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false}}}""",
        """{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":8},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2}},"required":["name","tags"],"additionalProperties":false}""",
    ];

    /// <summary>The tools every tool call offers; their parameters are what a forced call's arguments must validate against.</summary>
    public static readonly IReadOnlyList<Tool> Tools =
    [
        new() { Name = "get_time", Description = "The time in a city", Parameters = """{"type":"object","properties":{"city":{"type":"string","maxLength":12}},"required":["city"],"additionalProperties":false}""" },
        new() { Name = "set_light", Description = "Turns a light on or off", Parameters = """{"type":"object","properties":{"on":{"type":"boolean"},"room":{"enum":["hall","kitchen"]}},"required":["on"],"additionalProperties":false}""" },
    ];

    private static readonly Dictionary<string, JsonSchema> Validators = Schemas.OfType<string>().Concat(Tools.Select(tool => tool.Parameters))
        .Distinct().ToDictionary(schema => schema, schema => JsonSchema.FromText(schema), StringComparer.Ordinal);

    /// <summary>The schema of a constrained call (null: JSON object mode).</summary>
    public static string? SchemaOf(SoakCall call) => Schemas[(int)(call.Id % Schemas.Count)];

    /// <summary>The tool choice of a tool call: required, each tool by name, or auto, in turn.</summary>
    public static ToolChoice ChoiceOf(SoakCall call) => (call.Id % (Tools.Count + 2)) switch
    {
        0 => new ToolChoice { Mode = ToolChoiceMode.Required },
        1 => new ToolChoice { Mode = ToolChoiceMode.Auto },
        var named => new ToolChoice { Function = Tools[(int)named - 2].Name },
    };

    public static ResponseFormat FormatOf(SoakCall call) =>
        SchemaOf(call) is { } schema ? new ResponseFormat { JsonSchema = schema } : new ResponseFormat { JsonObject = true };

    /// <summary>What is wrong with a constrained call's completed output, or null when it parses and validates.</summary>
    public static string? CheckConstrained(SoakCall call, string text)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(text); }
        catch (JsonException exception) { return $"output {JsonSerializer.Serialize(text)} is not JSON ({exception.Message})"; }
        using (document)
        {
            if (SchemaOf(call) is not { } schema)
                return document.RootElement.ValueKind == JsonValueKind.Object ? null : $"output {text} is not a JSON object";
            return Validators[schema].Evaluate(document.RootElement).IsValid ? null : $"output {text} does not validate against {schema}";
        }
    }

    /// <summary>
    /// What is wrong with a tool call's result, or null. A forced choice must end in at least one call (a named one of
    /// that function) whose arguments validate; under auto, whatever was parsed as a call must name a tool and carry a
    /// JSON object (auto is not constrained, so its arguments are not held to the schema).
    /// </summary>
    public static string? CheckToolCalls(SoakCall call, FinishReason finish, RepeatedField<ToolCall> calls)
    {
        var choice = ChoiceOf(call);
        var forced = choice.ChoiceCase == ToolChoice.ChoiceOneofCase.Function || choice.Mode == ToolChoiceMode.Required;
        if (forced && (finish != FinishReason.ToolCalls || calls.Count == 0))
            return $"tool_choice {choice} ended {finish} with {calls.Count} calls";
        foreach (var made in calls)
        {
            if (Tools.FirstOrDefault(tool => tool.Name == made.Name) is not { } tool) return $"call of unknown tool '{made.Name}'";
            if (choice.ChoiceCase == ToolChoice.ChoiceOneofCase.Function && made.Name != choice.Function)
                return $"tool_choice {choice} called '{made.Name}'";
            JsonDocument arguments;
            try { arguments = JsonDocument.Parse(made.Arguments); }
            catch (JsonException exception) { return $"{made.Name} arguments {made.Arguments} are not JSON ({exception.Message})"; }
            using (arguments)
            {
                if (arguments.RootElement.ValueKind != JsonValueKind.Object) return $"{made.Name} arguments {made.Arguments} are not an object";
                if (forced && !Validators[tool.Parameters].Evaluate(arguments.RootElement).IsValid)
                    return $"{made.Name} arguments {made.Arguments} do not validate against {tool.Parameters}";
            }
        }
        return null;
    }
}
