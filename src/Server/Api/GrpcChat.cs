using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using InferServer.Api.V1;

namespace InferServer.Server.Api;

/// <summary>The gRPC API's chat messages, tools and tool calls to and from the server's own <see cref="Conversation"/>.</summary>
public static class GrpcChat
{
    /// <summary>The conversation of a Chat/ChatStream call.</summary>
    public static Conversation ToConversation(ChatRequest request) => new(Turns(request.Messages))
    {
        Tools = [.. request.Tools.Select(tool => new FunctionTool(tool.Name, tool.Description, tool.Parameters))],
        ToolChoice = Choice(request.ToolChoice),
        ParallelToolCalls = !request.HasParallelToolCalls || request.ParallelToolCalls,
        ChatTemplate = request.ChatTemplate,
        TemplateKwargs = Kwargs(request.ChatTemplateKwargs),
    };

    /// <summary>Messages as the server's turns.</summary>
    public static IReadOnlyList<ChatTurn> Turns(IEnumerable<ChatMessage> messages) =>
    [
        .. messages.Select(message => new ChatTurn(message.Role, message.Content)
        {
            ToolCalls = [.. message.ToolCalls.Select(call => new FunctionCall(call.Id, call.Name, call.Arguments))],
            ToolCallId = message.ToolCallId,
        }),
    ];

    /// <summary>A call the model made, as the response's ToolCall.</summary>
    public static ToolCall ToProto(FunctionCall call) => new() { Id = call.Id, Name = call.Name, Arguments = call.Arguments };

    private static ToolChoicePolicy Choice(ToolChoice? choice) => choice?.ChoiceCase switch
    {
        ToolChoice.ChoiceOneofCase.Function => new(ToolChoiceKind.Function, choice.Function),
        ToolChoice.ChoiceOneofCase.Mode => choice.Mode switch
        {
            ToolChoiceMode.None => new(ToolChoiceKind.None),
            ToolChoiceMode.Auto => new(ToolChoiceKind.Auto),
            ToolChoiceMode.Required => new(ToolChoiceKind.Required),
            _ => ToolChoicePolicy.Unset,
        },
        _ => ToolChoicePolicy.Unset,
    };

    // The Struct as the JSON values the template reads.
    private static Dictionary<string, JsonElement>? Kwargs(Struct? kwargs)
    {
        if (kwargs is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(JsonFormatter.Default.Format(kwargs));
        return document.RootElement.EnumerateObject().ToDictionary(variable => variable.Name, variable => variable.Value.Clone(), StringComparer.Ordinal);
    }
}
