using System.Text;
using DomainFinishReason = InferServer.Engine.FinishReason;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// One streamed chat choice when tools are offered. Text that cannot be part of a call goes out as content at once;
/// from where a call may begin (<see cref="ToolCallFormat.CallStart"/>: a Hermes tag, or a reply that opens like a
/// Llama or Mistral call) the text is held until the reply ends, then sent as OpenAI's tool-call deltas when it parses
/// as calls of the offered tools, and as content when it does not.
/// </summary>
internal sealed class ToolCallStream(ToolUse tools)
{
    /// <summary>How many characters of arguments each argument delta carries.</summary>
    public const int ArgumentPiece = 24;

    private readonly StringBuilder text = new();
    private int sent;

    /// <summary>Adds a delta's text; returns the content that can be sent now (possibly empty).</summary>
    public string Append(string delta)
    {
        text.Append(delta);
        var soFar = text.ToString();
        var end = Math.Max(sent, tools.Format.CallStart(soFar) ?? soFar.Length);
        var content = soFar[sent..end];
        sent = end;
        return content;
    }

    /// <summary>At the end: the calls when the reply parses as calls (a reply cut by max_tokens never does), else the held text as content.</summary>
    public (string Content, IReadOnlyList<FunctionCall> Calls) Finish(DomainFinishReason reason)
    {
        var whole = text.ToString();
        if (reason != DomainFinishReason.Length && tools.Parse(whole) is { } parsed)
        {
            return ("", parsed.Calls);
        }

        var rest = whole[sent..];
        sent = whole.Length;
        return (rest, []);
    }

    /// <summary>OpenAI's deltas of the calls: per call its index, id, type and name with empty arguments, then the arguments in pieces.</summary>
    public static IEnumerable<OpenAiToolCallDelta> Deltas(IReadOnlyList<FunctionCall> calls)
    {
        for (var index = 0; index < calls.Count; index++)
        {
            var call = calls[index];
            yield return new OpenAiToolCallDelta(index, call.Id, "function", new OpenAiFunctionDelta(call.Name, ""));
            for (var start = 0; start < call.Arguments.Length; start += ArgumentPiece)
            {
                var piece = call.Arguments.Substring(start, Math.Min(ArgumentPiece, call.Arguments.Length - start));
                yield return new OpenAiToolCallDelta(index, null, null, new OpenAiFunctionDelta(null, piece));
            }
        }
    }

    /// <summary>The calls as OpenAI's message tool_calls.</summary>
    public static IReadOnlyList<OpenAiToolCall> Message(IReadOnlyList<FunctionCall> calls) =>
        [.. calls.Select(call => new OpenAiToolCall(call.Id, "function", new OpenAiFunctionCall(call.Name, call.Arguments)))];
}
