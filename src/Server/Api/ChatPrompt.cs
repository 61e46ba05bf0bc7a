namespace InferServer.Server.Api;

/// <summary>A conversation rendered to prompt text by <paramref name="Template"/>, with the stop strings that end the reply.</summary>
public sealed record ChatPrompt(string Text, string Template, IReadOnlyList<string> StopStrings)
{
    /// <summary>The template's tool-call syntax when the conversation uses tools; null otherwise.</summary>
    public ToolCallFormat? ToolFormat { get; init; }

    /// <summary>How the reply's tool calls are read: null when the request offers no tools or tool_choice is none.</summary>
    public ToolUse? Tools { get; init; }
}
