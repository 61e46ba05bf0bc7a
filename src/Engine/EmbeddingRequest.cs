namespace InferServer.Engine;

/// <summary>Texts to embed with the base encoder or an adapter (LoRA on the encoder).</summary>
/// <param name="Adapter">Adapter name; null or empty = the base model.</param>
/// <param name="Texts">The texts (each tokenized with [CLS]/[SEP]).</param>
/// <param name="Normalize">L2-normalise each vector; null = the model's default.</param>
/// <param name="Deadline">Absolute deadline.</param>
public sealed record EmbeddingRequest(string? Adapter, IReadOnlyList<string> Texts, bool? Normalize = null, DateTimeOffset? Deadline = null);

/// <summary>One vector per text, in order.</summary>
public sealed record EmbeddingResult(IReadOnlyList<TextEmbedding> Results, AdapterServedFrom ServedFrom);

/// <summary>A text's vector and its token count (with special tokens).</summary>
public sealed record TextEmbedding(float[] Vector, int PromptTokens);
