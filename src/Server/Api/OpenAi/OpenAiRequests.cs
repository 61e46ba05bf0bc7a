namespace InferServer.Server.Api.OpenAi;

/// <summary>What both OpenAI generation endpoints share.</summary>
/// <param name="Model">The request's model: an adapter name, or the base model's served name.</param>
/// <param name="Params">Generation parameters, checked later by the shared validation (<see cref="GenerationMapper"/>).</param>
/// <param name="Choices">n: engine requests per prompt.</param>
/// <param name="Stream">Answer as server-sent events.</param>
/// <param name="IncludeUsage">stream_options.include_usage: a last chunk with the usage.</param>
/// <param name="User">OpenAI's end-user id; logged, nothing else.</param>
/// <param name="MaxTokensField">Which field set the token limit, to name it in errors.</param>
public sealed record OpenAiCommon(
    string Model, GenerationOptions Params, int Choices, bool Stream, bool IncludeUsage, string? User, string MaxTokensField);

/// <summary>One prompt of /v1/completions: text, or token ids.</summary>
public sealed record CompletionPrompt(string? Text, IReadOnlyList<int>? TokenIds);

/// <summary>A parsed /v1/completions body.</summary>
public sealed record CompletionCall(OpenAiCommon Common, IReadOnlyList<CompletionPrompt> Prompts);

/// <summary>A parsed /v1/chat/completions body: messages, tools, tool_choice, parallel_tool_calls, chat_template and
/// chat_template_kwargs are its <paramref name="Conversation"/>.</summary>
public sealed record ChatCompletionCall(OpenAiCommon Common, Conversation Conversation);

/// <summary>A parsed /v1/load_lora_adapter body.</summary>
public sealed record LoadLoraAdapterCall(string Name, string Path, bool Reload);

/// <summary>A /v1/embeddings body: texts for the base model or the adapter named in <paramref name="Model"/>.</summary>
/// <param name="Model"></param>
/// <param name="Input"></param>
/// <param name="Base64">encoding_format "base64": each vector as the base64 of its little-endian float32 bytes.</param>
/// <param name="Dimensions">Requested width; only the model's own width is served (no truncation).</param>
/// <param name="User"></param>
public sealed record EmbeddingCall(string Model, IReadOnlyList<string> Input, bool Base64, int? Dimensions, string? User);

/// <summary>A /classify body (vLLM's): texts for the base model's head or the head of the adapter named in <paramref name="Model"/>.</summary>
/// <param name="Model"></param>
/// <param name="Input"></param>
/// <param name="User"></param>
public sealed record ClassifyCall(string Model, IReadOnlyList<string> Input, string? User);
