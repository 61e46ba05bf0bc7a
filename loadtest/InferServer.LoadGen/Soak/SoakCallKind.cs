namespace InferServer.LoadGen.Soak;

/// <summary>The front doors the soak uses. Each pair (unary, stream) shares its solo answers: streaming never changes them.</summary>
public enum SoakCallKind
{
    Generate,
    GenerateStream,
    Chat,
    ChatStream,
    Completion,
    CompletionStream,

    /// <summary>
    /// Two unary gRPC Generate turns of one conversation: the second prompt is the first, its answer and a new message,
    /// as a chat client sends (by token ids, so the second turn starts exactly with the first), served from the prefix cache.
    /// </summary>
    Conversation,

    /// <summary>gRPC Generate constrained by one of <see cref="SoakStructured.Schemas"/>: checked by validation, not a solo answer.</summary>
    Constrained,
    ConstrainedStream,

    /// <summary>gRPC Chat offering <see cref="SoakStructured.Tools"/> under tool_choice required, named or auto: checked by validation.</summary>
    ToolChat,
    ToolChatStream,
}

public static class SoakCallKinds
{
    public static bool IsStream(this SoakCallKind kind) => kind is SoakCallKind.GenerateStream or SoakCallKind.ChatStream or SoakCallKind.CompletionStream
        or SoakCallKind.ConstrainedStream or SoakCallKind.ToolChatStream;

    /// <summary>Structured calls: their output is validated (<see cref="SoakStructured"/>) instead of compared with a solo answer.</summary>
    public static bool IsStructured(this SoakCallKind kind) =>
        kind is SoakCallKind.Constrained or SoakCallKind.ConstrainedStream or SoakCallKind.ToolChat or SoakCallKind.ToolChatStream;

    public static bool IsOpenAi(this SoakCallKind kind) => kind is SoakCallKind.Completion or SoakCallKind.CompletionStream;

    /// <summary>The family whose solo answer a call of this kind must equal.</summary>
    public static SoakCallKind Family(this SoakCallKind kind) => kind switch
    {
        SoakCallKind.GenerateStream => SoakCallKind.Generate,
        SoakCallKind.ChatStream => SoakCallKind.Chat,
        SoakCallKind.CompletionStream => SoakCallKind.Completion,
        _ => kind,
    };
}
