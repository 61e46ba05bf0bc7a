using System.Text;
using System.Text.Json;
using InferServer.Engine;

namespace InferServer.Server.Api.OpenAi;

/// <summary>/v1/completions: text choices, each prompt × n, with legacy logprobs.</summary>
internal sealed class CompletionGeneration : OpenAiGeneration<CompletionChoice, CompletionChoice>
{
    private const string Object = "text_completion";
    private readonly CompletionCall call;

    private CompletionGeneration(CompletionCall call)
        : base(call.Common) => this.call = call;

    /// <summary>Reads a /v1/completions body.</summary>
    public static CompletionGeneration Read(JsonElement body, ApiOptions limits) => new(OpenAiRequestReader.ReadCompletion(body, limits));

    public override string IdPrefix => "cmpl-";

    public override IReadOnlyList<GenerationRequest> ToDomain(EngineModelInfo model, ApiOptions limits) => OpenAiMapper.ToDomain(call, model, limits);

    public override OpenAiChoice<CompletionChoice, CompletionChoice> Choice(int index, Func<int, ReadOnlyMemory<byte>> tokenBytes) =>
        new TextChoice(index, tokenBytes);

    public override object Chunk(string id, long created, IReadOnlyList<CompletionChoice> pieces, OpenAiUsage? usage) =>
        new CompletionChunk(id, Object, created, Common.Model, pieces, usage);

    public override object Response(string id, long created, IReadOnlyList<CompletionChoice> choices, OpenAiUsage usage) =>
        new CompletionResponse(id, Object, created, Common.Model, choices, usage);

    private sealed class TextChoice(int index, Func<int, ReadOnlyMemory<byte>> tokenBytes) : OpenAiChoice<CompletionChoice, CompletionChoice>
    {
        private readonly StringBuilder text = new();
        private readonly List<CompletionLogprobs?> logprobs = [];
        private string? reason;

        public override IEnumerable<CompletionChoice> Stream(GenerationEvent generationEvent) => generationEvent switch
        {
            TokenDelta delta => [new CompletionChoice(index, delta.Text, OpenAiMapper.CompletionLogprobs(delta.Logprobs, tokenBytes), null)],
            GenerationFinished finished => [new CompletionChoice(index, "", null, OpenAiMapper.FinishReason(finished.Reason))],
            _ => [],
        };

        public override void Collect(GenerationEvent generationEvent)
        {
            if (generationEvent is TokenDelta delta)
            {
                text.Append(delta.Text);
                logprobs.Add(OpenAiMapper.CompletionLogprobs(delta.Logprobs, tokenBytes));
            }
            else if (generationEvent is GenerationFinished finished)
            {
                reason = OpenAiMapper.FinishReason(finished.Reason);
            }
        }

        public override CompletionChoice Whole() => new(index, text.ToString(), OpenAiMapper.Join(logprobs), reason);
    }
}
