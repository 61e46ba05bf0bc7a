using System.Text.Json.Serialization;

// The response bodies of the OpenAI-compatible API, serialized with snake_case names (OpenAiJson.Options). Shapes follow
// OpenAI's API reference for completions, chat completions and models; vLLM's additions where OpenAI has none (a model's
// root, parent and max_model_len).
namespace InferServer.Server.Api.OpenAi;

public sealed record OpenAiUsage(int PromptTokens, int CompletionTokens, int TotalTokens)
{
    /// <summary>OpenAI's prompt_tokens_details: how many prompt tokens came from the prefix cache.</summary>
    public PromptTokensDetails PromptTokensDetails { get; init; } = new(0);
}

/// <summary>usage.prompt_tokens_details: cached_tokens are prompt tokens whose keys and values were reused, not prefilled.</summary>
public sealed record PromptTokensDetails(int CachedTokens);

public sealed record CompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<CompletionChoice> Choices, OpenAiUsage Usage);

public sealed record CompletionChoice(int Index, string Text, CompletionLogprobs? Logprobs, string? FinishReason);

/// <summary>Legacy completions logprobs: parallel lists per token; top_logprobs maps token to logprob.</summary>
public sealed record CompletionLogprobs(
    IReadOnlyList<string> Tokens, IReadOnlyList<float> TokenLogprobs, IReadOnlyList<IReadOnlyDictionary<string, float>> TopLogprobs);

public sealed record CompletionChunk(
    string Id, string Object, long Created, string Model, IReadOnlyList<CompletionChoice> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] OpenAiUsage? Usage);

public sealed record ChatCompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChoice> Choices, OpenAiUsage Usage);

public sealed record ChatChoice(int Index, ChatReply Message, ChatLogprobs? Logprobs, string? FinishReason);

/// <summary>The assistant's message: its text (null when it only calls tools) and its tool calls (left out when none).</summary>
public sealed record ChatReply(string Role, string? Content)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<OpenAiToolCall>? ToolCalls { get; init; }
}

/// <summary>A tool call the model made: arguments are the JSON object as text, as OpenAI sends them.</summary>
public sealed record OpenAiToolCall(string Id, string Type, OpenAiFunctionCall Function);

public sealed record OpenAiFunctionCall(string Name, string Arguments);

/// <summary>A streamed piece of a tool call: index, id, type and name first, then arguments in pieces (each field only
/// in the chunk that carries it).</summary>
public sealed record OpenAiToolCallDelta(
    int Index,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Id,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Type,
    OpenAiFunctionDelta Function);

public sealed record OpenAiFunctionDelta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Arguments);

public sealed record ChatLogprobs(IReadOnlyList<ChatTokenLogprob> Content);

/// <summary>A chosen token: its text (see OpenAiMapper.TokenName) and its exact UTF-8 bytes, which a client needs to join
/// tokens that each hold part of one character.</summary>
public sealed record ChatTokenLogprob(string Token, float Logprob, IReadOnlyList<int> Bytes, IReadOnlyList<ChatTopLogprob> TopLogprobs);

public sealed record ChatTopLogprob(string Token, float Logprob, IReadOnlyList<int> Bytes);

public sealed record ChatCompletionChunk(
    string Id, string Object, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] OpenAiUsage? Usage);

public sealed record ChatChunkChoice(int Index, ChatDelta Delta, ChatLogprobs? Logprobs, string? FinishReason);

public sealed record ChatDelta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<OpenAiToolCallDelta>? ToolCalls { get; init; }
}

public sealed record ModelList(string Object, IReadOnlyList<ModelCard> Data);

/// <summary>A servable model: the base (parent null) or an adapter (parent = the base's served name, root = its directory).</summary>
public sealed record ModelCard(string Id, string Object, long Created, string OwnedBy, string Root, string? Parent, int? MaxModelLen);

public sealed record OpenAiErrorBody(OpenAiErrorDetail Error);

/// <summary>OpenAI's error object; <c>param</c> names the offending request field.</summary>
public sealed record OpenAiErrorDetail(string Message, string Type, string? Param, string? Code);

/// <summary>/v1/embeddings response.</summary>
public sealed record EmbeddingList(string Object, IReadOnlyList<EmbeddingItem> Data, string Model, EmbeddingUsage Usage);

/// <summary>One text's vector: a float list, or a base64 string for encoding_format "base64".</summary>
public sealed record EmbeddingItem(string Object, int Index, object Embedding);

/// <summary>Embeddings count prompt tokens only.</summary>
public sealed record EmbeddingUsage(int PromptTokens, int TotalTokens);

/// <summary>A /classify answer (vLLM's shape): id "classify-…", object "list", one item per input.</summary>
public sealed record ClassificationList(string Id, string Object, long Created, string Model, IReadOnlyList<ClassificationItem> Data, ClassificationUsage Usage);

/// <summary>One text's result: the most probable label, every label's probability by index, and how many there are.</summary>
public sealed record ClassificationItem(int Index, string Label, IReadOnlyList<double> Probs, int NumClasses);

/// <summary>Classification counts prompt tokens only (completion_tokens is always 0).</summary>
public sealed record ClassificationUsage(int PromptTokens, int TotalTokens, int CompletionTokens);

/// <summary>A /tokenize answer (vLLM's shape).</summary>
public sealed record TokenizeResult(int Count, int MaxModelLen, IReadOnlyList<int> Tokens);

/// <summary>A /detokenize answer (vLLM's shape).</summary>
public sealed record DetokenizeResult(string Prompt);
