using System.Text.Json;
using System.Text.RegularExpressions;
using InferServer.Kernels.Structured;

namespace InferServer.Server.Api;

/// <summary>
/// The checks on a chat request's tools, tool choice and tool messages, every problem reported at once with its field
/// (gRPC names: tools[i].name, tools[i].parameters, tool_choice, messages[i].tool_call_id, …), and the grammar a forced
/// call is generated under.
/// </summary>
public static partial class ToolRequests
{
    /// <summary>Adds every problem of the request's tools, choice and tool messages to <paramref name="violations"/>;
    /// <paramref name="formatConstrained"/>: the request also sets a response format, which a forced call conflicts with.</summary>
    public static void Validate(Conversation conversation, ApiOptions limits, List<FieldViolation> violations, bool formatConstrained)
    {
        if (conversation.Tools.Count > limits.MaxTools)
        {
            violations.Add(new("tools", $"{conversation.Tools.Count} tools exceed the limit of {limits.MaxTools}"));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < conversation.Tools.Count && i < limits.MaxTools; i++)
        {
            var tool = conversation.Tools[i];
            if (!ValidName().IsMatch(tool.Name))
            {
                violations.Add(new($"tools[{i}].name", tool.Name.Length == 0 ? "is required" : $"must be 1 to 64 letters, digits, '_' or '-', got '{Shorten(tool.Name)}'"));
            }
            else if (!names.Add(tool.Name))
            {
                violations.Add(new($"tools[{i}].name", $"'{tool.Name}' is offered twice"));
            }

            if (tool.Parameters.Length > 0 && ParametersProblem(tool.Parameters) is { } problem)
            {
                violations.Add(new($"tools[{i}].parameters", problem));
            }
        }

        var choice = conversation.ToolChoice;
        if (choice.Kind == ToolChoiceKind.Function && !names.Contains(choice.Function))
        {
            violations.Add(new("tool_choice", $"names '{Shorten(choice.Function)}', which is not one of the request's tools"));
        }
        else if (choice.Forced && conversation.Tools.Count == 0)
        {
            violations.Add(new("tool_choice", "requires a call, but the request offers no tools"));
        }

        if (choice.Forced && formatConstrained)
        {
            violations.Add(new("tool_choice", "a forced tool call cannot be combined with response_format (the reply is the call)"));
        }

        ValidateMessages(conversation, violations);
    }

    /// <summary>The grammar a forced call is generated under, or null when the choice forces none.</summary>
    public static JsonGrammar? ForcedCallGrammar(Conversation conversation, ToolCallFormat format)
    {
        if (!conversation.ToolChoice.Forced)
        {
            return null;
        }

        var tools = conversation.ToolChoice.Kind == ToolChoiceKind.Function
            ? conversation.Tools.Where(tool => tool.Name == conversation.ToolChoice.Function).Take(1).ToList()
            : [.. conversation.Tools];
        return JsonGrammarCache.Get(format.CallSchema(tools), format.Prefix, format.Suffix);
    }

    private static void ValidateMessages(Conversation conversation, List<FieldViolation> violations)
    {
        var callIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < conversation.Messages.Count; i++)
        {
            var message = conversation.Messages[i];
            if (message.ToolCalls.Count > 0 && message.Role != "assistant")
            {
                violations.Add(new($"messages[{i}].tool_calls", "only assistant messages carry tool calls"));
            }

            for (var j = 0; j < message.ToolCalls.Count; j++)
            {
                var call = message.ToolCalls[j];
                if (call.Id.Length == 0)
                {
                    violations.Add(new($"messages[{i}].tool_calls[{j}].id", "is required"));
                }

                callIds.Add(call.Id);
                if (call.Name.Length == 0)
                {
                    violations.Add(new($"messages[{i}].tool_calls[{j}].name", "is required"));
                }

                if (!IsJsonObject(call.Arguments))
                {
                    violations.Add(new($"messages[{i}].tool_calls[{j}].arguments", "must be a JSON object, as JSON text"));
                }
            }
            if (message.Role == "tool")
            {
                if (message.ToolCallId.Length == 0)
                {
                    violations.Add(new($"messages[{i}].tool_call_id", "is required for a tool message"));
                }
                else if (!callIds.Contains(message.ToolCallId))
                {
                    violations.Add(new($"messages[{i}].tool_call_id", $"'{Shorten(message.ToolCallId)}' answers no earlier assistant tool call"));
                }
            }
            else if (message.ToolCallId.Length > 0)
            {
                violations.Add(new($"messages[{i}].tool_call_id", "only tool messages answer a tool call"));
            }
        }
    }

    // A parameters schema must be an object schema the constrained decoder can enforce: a forced call is generated under it.
    private static string? ParametersProblem(string parameters)
    {
        if (!IsJsonObject(parameters))
        {
            return "must be a JSON Schema object";
        }

        try
        {
            JsonGrammarCache.Get(parameters);
            return null;
        }
        catch (UnsupportedSchemaException refused)
        {
            return refused.Message;
        }
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ValidName();
}
