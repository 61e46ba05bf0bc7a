namespace InferServer.Server.Engine;

/// <summary>Texts to classify with the base head or an adapter's head.</summary>
/// <param name="Adapter">Adapter name; null or empty = the base model's head.</param>
/// <param name="Texts">The texts (each tokenized with [CLS]/[SEP]).</param>
/// <param name="Deadline">Absolute deadline.</param>
public sealed record ClassificationRequest(string? Adapter, IReadOnlyList<string> Texts, DateTimeOffset? Deadline = null);

/// <summary>One result per text, in order.</summary>
public sealed record ClassificationResult(IReadOnlyList<TextClassification> Results, AdapterServedFrom ServedFrom);

/// <summary>Scores of every label for one text, highest first, and its token count.</summary>
public sealed record TextClassification(IReadOnlyList<LabelScore> Scores, int PromptTokens);

/// <summary>A label and its probability (softmax, or sigmoid for multi-label heads).</summary>
public sealed record LabelScore(string Label, int Index, double Score);
