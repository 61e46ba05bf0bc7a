using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace InferServer.Server.Api;

/// <summary>
/// How one model family writes tool calls, which its chat template teaches it: Hermes (Qwen2.5, Qwen3 and the built-in
/// chatml: <c>&lt;tool_call&gt;\n{"name": …, "arguments": {…}}\n&lt;/tool_call&gt;</c>, any number, after optional text),
/// Llama 3.x (the whole reply is <c>{"name": …, "parameters": {…}}</c>, after the special &lt;|python_tag|&gt; the text
/// does not show) and Mistral (<c>[TOOL_CALLS]</c>, a special token the text does not show, then a JSON list of
/// <c>{"name": …, "arguments": {…}}</c>). Each format parses a reply into calls, and gives the grammar a forced call is
/// generated under (tool_choice required or named): its fixed opening and closing text around a JSON value whose schema
/// allows exactly the offered tools with their parameter schemas.
/// </summary>
public abstract partial class ToolCallFormat
{
    /// <summary>Hermes-style calls in &lt;tool_call&gt; tags.</summary>
    public static readonly ToolCallFormat Hermes = new HermesFormat();

    /// <summary>Llama 3.1/3.2/3.3 JSON calls.</summary>
    public static readonly ToolCallFormat Llama3Json = new Llama3JsonFormat();

    /// <summary>Mistral's [TOOL_CALLS] list.</summary>
    public static readonly ToolCallFormat Mistral = new MistralFormat();

    /// <summary>A short name for logs and docs.</summary>
    public abstract string Name { get; }

    /// <summary>Where a forced call's text starts (written byte for byte before the JSON value).</summary>
    public virtual string Prefix => "";

    /// <summary>Where a forced call's text ends.</summary>
    public virtual string Suffix => "";

    /// <summary>The format a chat template teaches, found by the syntax it writes; null when it renders no tool calls.</summary>
    public static ToolCallFormat? Of(string templateSource)
    {
        if (templateSource.Contains("<tool_call>", StringComparison.Ordinal))
        {
            return Hermes;
        }

        if (templateSource.Contains("[TOOL_CALLS]", StringComparison.Ordinal))
        {
            return Mistral;
        }

        return templateSource.Contains("\"parameters\": ", StringComparison.Ordinal) && templateSource.Contains("ipython", StringComparison.Ordinal)
            ? Llama3Json
            : null;
    }

    /// <summary>The JSON Schema of one forced call's JSON value: a call of any of <paramref name="tools"/>.</summary>
    public string CallSchema(IReadOnlyList<FunctionTool> tools)
    {
        var definitions = new JsonObject();
        var options = new JsonArray([.. tools.Select(tool => (JsonNode)CallObject(WithReferencesUnderRoot(tool, definitions)))]);
        var call = options.Count == 1 ? options[0]!.DeepClone() : new JsonObject { ["anyOf"] = options };
        var schema = Wrap(call);
        if (definitions.Count > 0)
        {
            schema["$defs"] = definitions;
        }

        return schema.ToJsonString();
    }

    /// <summary>
    /// A tool whose parameters use $ref, with them moved under the call schema's $defs (as the tool's name) and every
    /// reference re-pointed there: a parameters schema's "#" (and so "#/$defs/…", Pydantic's nested models) means its own
    /// root, which inside the wrapped call would be the call's root instead, refused or silently the wrong schema.
    /// </summary>
    private static FunctionTool WithReferencesUnderRoot(FunctionTool tool, JsonObject definitions)
    {
        if (!tool.Parameters.Contains("\"$ref\"", StringComparison.Ordinal))
        {
            return tool;
        }

        var parameters = JsonNode.Parse(tool.Parameters)!;
        RepointReferences(parameters, "#/$defs/" + tool.Name);
        definitions[tool.Name] = parameters;
        return tool with { Parameters = new JsonObject { ["$ref"] = "#/$defs/" + tool.Name }.ToJsonString() };
    }

    // Values (const, enum, default, examples) are data, not schemas: a "$ref" inside them is left alone.
    private static readonly HashSet<string> DataKeywords = ["const", "enum", "default", "examples"];
    private static readonly HashSet<string> NameMaps = ["properties", "$defs", "definitions"];

    private static void RepointReferences(JsonNode? node, string root)
    {
        switch (node)
        {
            case JsonObject schema:
                foreach (var (keyword, value) in schema.ToList())
                {
                    if (keyword == "$ref" && value is JsonValue reference && reference.TryGetValue<string>(out var pointer) && pointer.StartsWith('#'))
                    {
                        schema[keyword] = root + pointer[1..];
                    }
                    else if (NameMaps.Contains(keyword) && value is JsonObject named)
                    {
                        // Keys here are property or definition names ("const" may be a property), each value a schema.
                        foreach (var (_, subschema) in named)
                        {
                            RepointReferences(subschema, root);
                        }
                    }
                    else if (!DataKeywords.Contains(keyword))
                    {
                        RepointReferences(value, root);
                    }
                }

                break;
            case JsonArray items:
                foreach (var item in items)
                {
                    RepointReferences(item, root);
                }

                break;
        }
    }

    /// <summary>
    /// Splits a whole reply into the text before the calls and the calls, or null when it is not a call of an offered
    /// tool in this syntax (then it is all text). Unknown names, arguments that are not an object and unclosed calls
    /// (max_tokens inside a call) make it text, so nothing the model did not finish becomes a call.
    /// </summary>
    public abstract (string Content, IReadOnlyList<FunctionCall> Calls)? Parse(string text, IReadOnlySet<string> toolNames);

    /// <summary>
    /// Where, in a reply streamed so far, a call may have begun: the index of its opening text, of a partial opening at
    /// the end, or null when everything so far is plain text that can be sent.
    /// </summary>
    public abstract int? CallStart(string textSoFar);

    /// <summary>A new call id: 9 letters and digits (Mistral's templates refuse any other), "call_" and 24 for the rest.</summary>
    public virtual string NewCallId() => "call_" + RandomAlphanumerics(24);

    /// <summary>The call object of one tool in this syntax (its name fixed, its arguments under its parameters).</summary>
    protected abstract JsonObject CallObject(FunctionTool tool);

    /// <summary>The call value around one or more call objects (Mistral's list).</summary>
    protected virtual JsonNode Wrap(JsonNode call) => call;

    /// <summary>A call object's schema: name fixed, arguments under <paramref name="argumentsName"/>.</summary>
    protected static JsonObject NamedCall(FunctionTool tool, string argumentsName) => new()
    {
        ["type"] = "object",
        ["properties"] = new JsonObject
        {
            ["name"] = new JsonObject { ["const"] = tool.Name },
            [argumentsName] = ParametersSchema(tool),
        },
        ["required"] = new JsonArray("name", argumentsName),
        ["additionalProperties"] = false,
    };

    private static JsonNode ParametersSchema(FunctionTool tool) =>
        tool.Parameters.Length == 0 ? new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() } : JsonNode.Parse(tool.Parameters)!;

    /// <summary>A call read from its JSON object, or null when it is not one of an offered tool.</summary>
    protected FunctionCall? ReadCall(JsonElement element, IReadOnlySet<string> toolNames, params string[] argumentNames)
    {
        if (element.ValueKind != JsonValueKind.Object
            || !element.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || !toolNames.Contains(name.GetString()!))
        {
            return null;
        }

        foreach (var argumentName in argumentNames)
        {
            if (element.TryGetProperty(argumentName, out var arguments) && arguments.ValueKind == JsonValueKind.Object)
            {
                return new FunctionCall(NewCallId(), name.GetString()!, arguments.GetRawText());
            }
        }
        return null;
    }

    /// <summary>Parses <paramref name="text"/> as one JSON value, or null.</summary>
    protected static JsonElement? ParseJson(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The index where a reply that is wholly a call starts (its first non-space character is
    /// <paramref name="opening"/>), or null when it is text.</summary>
    protected static int? StartsWith(string textSoFar, char opening)
    {
        var first = textSoFar.AsSpan().IndexOfAnyExcept(" \t\r\n");
        return first < 0 ? 0 : textSoFar[first] == opening ? 0 : null;
    }

    private static string RandomAlphanumerics(int count)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        return string.Create(count, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
            }
        });
    }

    private sealed partial class HermesFormat : ToolCallFormat
    {
        private const string Open = "<tool_call>";

        public override string Name => "hermes";

        public override string Prefix => Open + "\n";

        public override string Suffix => "\n</tool_call>";

        protected override JsonObject CallObject(FunctionTool tool) => NamedCall(tool, "arguments");

        public override (string Content, IReadOnlyList<FunctionCall> Calls)? Parse(string text, IReadOnlySet<string> toolNames)
        {
            var first = text.IndexOf(Open, StringComparison.Ordinal);
            if (first < 0)
            {
                return null;
            }

            var calls = new List<FunctionCall>();
            var position = first;
            foreach (Match block in Block().Matches(text, first))
            {
                // Only space may stand between calls: anything else means this is not a clean list of calls.
                if (block.Index != position && !string.IsNullOrWhiteSpace(text[position..block.Index]))
                {
                    return null;
                }

                if (ParseJson(block.Groups[1].Value) is not { } json || ReadCall(json, toolNames, "arguments") is not { } call)
                {
                    return null;
                }

                calls.Add(call);
                position = block.Index + block.Length;
            }
            return calls.Count > 0 && string.IsNullOrWhiteSpace(text[position..]) ? (text[..first].Trim(), calls) : null;
        }

        public override int? CallStart(string textSoFar)
        {
            var found = textSoFar.IndexOf(Open, StringComparison.Ordinal);
            if (found >= 0)
            {
                return found;
            }

            // A partial "<tool_call" at the end may still become one: hold it back.
            for (var length = Math.Min(Open.Length - 1, textSoFar.Length); length > 0; length--)
            {
                if (textSoFar.AsSpan(textSoFar.Length - length).SequenceEqual(Open.AsSpan(0, length)))
                {
                    return textSoFar.Length - length;
                }
            }
            return null;
        }

        [GeneratedRegex(@"<tool_call>\s*(.*?)\s*</tool_call>", RegexOptions.Singleline)]
        private static partial Regex Block();
    }

    private sealed class Llama3JsonFormat : ToolCallFormat
    {
        public override string Name => "llama3_json";

        protected override JsonObject CallObject(FunctionTool tool) => NamedCall(tool, "parameters");

        // Llama 3.x writes "parameters"; some fine-tunes write "arguments", which is read too.
        public override (string Content, IReadOnlyList<FunctionCall> Calls)? Parse(string text, IReadOnlySet<string> toolNames) =>
            ParseJson(text.Trim()) is { } json && ReadCall(json, toolNames, "parameters", "arguments") is { } call ? ("", [call]) : null;

        public override int? CallStart(string textSoFar) => StartsWith(textSoFar, '{');
    }

    private sealed class MistralFormat : ToolCallFormat
    {
        private const string Marker = "[TOOL_CALLS]";

        public override string Name => "mistral";

        protected override JsonObject CallObject(FunctionTool tool) => NamedCall(tool, "arguments");

        protected override JsonNode Wrap(JsonNode call) => new JsonObject
        {
            ["type"] = "array",
            ["items"] = call,
            ["minItems"] = 1,
            ["maxItems"] = 1,
        };

        public override string NewCallId() => RandomAlphanumerics(9);

        public override (string Content, IReadOnlyList<FunctionCall> Calls)? Parse(string text, IReadOnlySet<string> toolNames)
        {
            var body = text.Trim();
            if (body.StartsWith(Marker, StringComparison.Ordinal))
            {
                body = body[Marker.Length..];
            }

            if (ParseJson(body) is not { ValueKind: JsonValueKind.Array } list || list.GetArrayLength() == 0)
            {
                return null;
            }

            var calls = new List<FunctionCall>();
            foreach (var item in list.EnumerateArray())
            {
                if (ReadCall(item, toolNames, "arguments") is not { } call)
                {
                    return null;
                }

                calls.Add(call);
            }
            return ("", calls);
        }

        public override int? CallStart(string textSoFar) => StartsWith(textSoFar, '[');
    }
}
