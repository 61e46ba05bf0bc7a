
namespace InferServer.Server.Api;

/// <summary>
/// A chat request's tools as the reply is read: the template's call syntax, the offered names, whether the reply is
/// forced to be a call (tool_choice required or named, generated under the call grammar) and whether several calls
/// may be returned. Absent when the request has no tools or tool_choice is none: then the reply is plain text.
/// </summary>
public sealed record ToolUse(ToolCallFormat Format, IReadOnlySet<string> Names, bool Forced, bool Parallel)
{
    /// <summary>The reply's text before the calls and the calls (only the first unless parallel), or null when it is text.</summary>
    public (string Content, IReadOnlyList<FunctionCall> Calls)? Parse(string text)
    {
        if (Format.Parse(text, Names) is not { } parsed)
        {
            return null;
        }

        return Parallel || parsed.Calls.Count == 1 ? parsed : (parsed.Content, [parsed.Calls[0]]);
    }
}
