using System.Text.Json;

namespace InferServer.Server.Api;

/// <summary>
/// A chat conversation as the server checks, renders and reads it, in neither front door's types: gRPC maps its
/// ChatRequest here (<see cref="GrpcChat"/>), the OpenAI port its body. The chat templates (<see cref="ChatTemplates"/>)
/// and the tool checks (<see cref="ToolRequests"/>) take this.
/// </summary>
/// <param name="Messages">The conversation so far, oldest first.</param>
public sealed record Conversation(IReadOnlyList<ChatTurn> Messages)
{
    /// <summary>Functions the model may call.</summary>
    public IReadOnlyList<FunctionTool> Tools { get; init; } = [];

    /// <summary>Whether and which tool must be called.</summary>
    public ToolChoicePolicy ToolChoice { get; init; } = ToolChoicePolicy.Unset;

    /// <summary>Whether a reply may hold more than one call.</summary>
    public bool ParallelToolCalls { get; init; } = true;

    /// <summary>Which template renders it: empty or "model" for the model's own, or a built-in's name.</summary>
    public string ChatTemplate { get; init; } = "";

    /// <summary>Extra variables for the model's own template (vLLM's chat_template_kwargs), each a JSON value; null for none.</summary>
    public IReadOnlyDictionary<string, JsonElement>? TemplateKwargs { get; init; }

    /// <summary>Whether the conversation uses tools at all: offered tools, assistant tool calls or tool results.</summary>
    public bool UsesTools => Tools.Count > 0 || Messages.Any(message => message.ToolCalls.Count > 0 || message.Role == "tool");
}

/// <summary>One message: its role ("system", "user", "assistant", "tool") and text.</summary>
public sealed record ChatTurn(string Role, string Content)
{
    /// <summary>Assistant only: the calls it made.</summary>
    public IReadOnlyList<FunctionCall> ToolCalls { get; init; } = [];

    /// <summary>Tool only: the id of the call this result answers.</summary>
    public string ToolCallId { get; init; } = "";
}

/// <summary>A function the model may call: its parameters are a JSON Schema as text (empty for none).</summary>
public sealed record FunctionTool(string Name, string Description, string Parameters);

/// <summary>A call of a function: its arguments are a JSON object as text.</summary>
public sealed record FunctionCall(string Id, string Name, string Arguments);

/// <summary>How tool_choice was set: not at all (auto), none, auto, required, or a function by name.</summary>
public sealed record ToolChoicePolicy(ToolChoiceKind Kind, string Function = "")
{
    /// <summary>tool_choice not set: auto when tools are given.</summary>
    public static readonly ToolChoicePolicy Unset = new(ToolChoiceKind.Unset);

    /// <summary>Whether it forces a call (required, or a function by name).</summary>
    public bool Forced => Kind is ToolChoiceKind.Required or ToolChoiceKind.Function;
}

/// <summary>The kinds of <see cref="ToolChoicePolicy"/>.</summary>
public enum ToolChoiceKind
{
    /// <summary>Not set: auto when tools are given.</summary>
    Unset,

    /// <summary>Never call: the tools are shown, the reply is text.</summary>
    None,

    /// <summary>The model decides.</summary>
    Auto,

    /// <summary>A call of one of the tools.</summary>
    Required,

    /// <summary>A call of the named function.</summary>
    Function,
}
