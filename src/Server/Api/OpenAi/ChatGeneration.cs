using System.Text;
using System.Text.Json;
using InferServer.Engine;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// /v1/chat/completions: n assistant messages of one rendered conversation. With tools, a reply is read for calls: whole,
/// after it ends; streamed, text that may be a call is held back (<see cref="ToolCallStream"/>) and sent at the end as
/// tool-call deltas (finish_reason "tool_calls") or as the content it turned out to be.
/// </summary>
internal sealed class ChatGeneration : OpenAiGeneration<ChatChunkChoice, ChatChoice>
{
    private readonly ChatCompletionCall call;
    private ToolUse? tools;

    private ChatGeneration(ChatCompletionCall call)
        : base(call.Common) => this.call = call;

    /// <summary>Reads a /v1/chat/completions body.</summary>
    public static ChatGeneration Read(JsonElement body, ApiOptions limits) => new(OpenAiRequestReader.ReadChat(body, limits));

    public override string IdPrefix => "chatcmpl-";

    public override IReadOnlyList<GenerationRequest> ToDomain(EngineModelInfo model, ApiOptions limits)
    {
        var (requests, prompt) = OpenAiMapper.ToDomainWithPrompt(call, model, limits);
        tools = prompt.Tools;
        return requests;
    }

    public override OpenAiChoice<ChatChunkChoice, ChatChoice> Choice(int index, Func<int, ReadOnlyMemory<byte>> tokenBytes) =>
        new MessageChoice(index, tokenBytes, tools, Common.Params.Logprobs);

    public override object Chunk(string id, long created, IReadOnlyList<ChatChunkChoice> pieces, OpenAiUsage? usage) =>
        new ChatCompletionChunk(id, "chat.completion.chunk", created, Common.Model, pieces, usage);

    public override object Response(string id, long created, IReadOnlyList<ChatChoice> choices, OpenAiUsage usage) =>
        new ChatCompletionResponse(id, "chat.completion", created, Common.Model, choices, usage);

    private sealed class MessageChoice(int index, Func<int, ReadOnlyMemory<byte>> tokenBytes, ToolUse? tools, bool logprobsAsked)
        : OpenAiChoice<ChatChunkChoice, ChatChoice>
    {
        private readonly ToolCallStream? toolStream = tools is null ? null : new ToolCallStream(tools);
        private readonly StringBuilder text = new();
        private readonly List<ChatTokenLogprob> logprobs = [];
        private string? reason;

        public override IEnumerable<ChatChunkChoice> Opening() => [new ChatChunkChoice(index, new ChatDelta("assistant", ""), null, null)];

        public override IEnumerable<ChatChunkChoice> Stream(GenerationEvent generationEvent)
        {
            var pieces = new List<ChatChunkChoice>();
            switch (generationEvent)
            {
                case TokenDelta delta:
                    var deltaLogprobs = OpenAiMapper.ChatLogprobs(delta.Logprobs, tokenBytes);
                    var content = toolStream is null ? delta.Text : toolStream.Append(delta.Text);
                    if (toolStream is null || content.Length > 0 || deltaLogprobs is not null)
                    {
                        pieces.Add(new ChatChunkChoice(index, new ChatDelta(null, content), deltaLogprobs, null));
                    }

                    break;
                case GenerationFinished finished:
                    var finishReason = OpenAiMapper.FinishReason(finished.Reason);
                    if (toolStream is not null)
                    {
                        var (rest, calls) = toolStream.Finish(finished.Reason);
                        if (rest.Length > 0)
                        {
                            pieces.Add(new ChatChunkChoice(index, new ChatDelta(null, rest), null, null));
                        }

                        pieces.AddRange(ToolCallStream.Deltas(calls).Select(call =>
                            new ChatChunkChoice(index, new ChatDelta(null, null) { ToolCalls = [call] }, null, null)));
                        finishReason = calls.Count > 0 ? "tool_calls" : finishReason;
                    }

                    pieces.Add(new ChatChunkChoice(index, new ChatDelta(null, null), null, finishReason));
                    break;
            }
            return pieces;
        }

        public override void Collect(GenerationEvent generationEvent)
        {
            if (generationEvent is TokenDelta delta)
            {
                text.Append(delta.Text);
                if (OpenAiMapper.ChatLogprobs(delta.Logprobs, tokenBytes) is { } part)
                {
                    logprobs.AddRange(part.Content);
                }
            }
            else if (generationEvent is GenerationFinished finished)
            {
                reason = OpenAiMapper.FinishReason(finished.Reason);
            }
        }

        public override ChatChoice Whole()
        {
            var whole = text.ToString();
            var reply = new ChatReply("assistant", whole);
            var finishReason = reason;
            // A reply cut by max_tokens is never read as a call: its arguments may be unfinished.
            if (tools is not null && reason != "length" && tools.Parse(whole) is { } parsed)
            {
                reply = new ChatReply("assistant", parsed.Content.Length == 0 ? null : parsed.Content) { ToolCalls = ToolCallStream.Message(parsed.Calls) };
                finishReason = "tool_calls";
            }

            return new ChatChoice(index, reply, logprobsAsked ? new ChatLogprobs(logprobs) : null, finishReason);
        }
    }
}
