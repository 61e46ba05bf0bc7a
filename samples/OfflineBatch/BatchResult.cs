using System.Text.Json.Serialization;

namespace InferServer.Samples.OfflineBatch;

/// <summary>One line of the output file.</summary>
public sealed record BatchResult(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("adapter")] string Adapter,
    [property: JsonPropertyName("prompt")] string Prompt,
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("finish_reason")] string FinishReason,
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("completion_tokens")] int CompletionTokens);
