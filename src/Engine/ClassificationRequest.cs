namespace InferServer.Engine;

/// <summary>Texts to classify with the base head or an adapter's head, or to embed (<see cref="Output"/>).</summary>
/// <param name="Adapter">Adapter name; null or empty = the base model's head.</param>
/// <param name="Texts">The texts (each tokenized with [CLS]/[SEP]).</param>
/// <param name="Deadline">Absolute deadline.</param>
public sealed record ClassificationRequest(string? Adapter, IReadOnlyList<string> Texts, DateTimeOffset? Deadline = null)
{
    /// <summary>Label scores (Classify) or one vector per text (Embed); both run the same encoder steps.</summary>
    public EncoderOutput Output { get; init; } = EncoderOutput.Labels;

    /// <summary>For embeddings: L2-normalise; null = the model's default (sentence-transformers' Normalize module).</summary>
    public bool? Normalize { get; init; }
}

/// <summary>What an encoder job returns per text.</summary>
public enum EncoderOutput
{
    /// <summary>Every label's score from the adapter's or the base head.</summary>
    Labels,

    /// <summary>The mean-pooled last hidden state, optionally normalised.</summary>
    Embedding,
}

/// <summary>One result per text, in order.</summary>
public sealed record ClassificationResult(IReadOnlyList<TextClassification> Results, AdapterServedFrom ServedFrom);

/// <summary>Scores of every label for one text, highest first, and its token count; or its embedding.</summary>
public sealed record TextClassification(IReadOnlyList<LabelScore> Scores, int PromptTokens)
{
    /// <summary>True when every score and embedding value is a finite number.</summary>
    public bool IsFinite => Scores.All(score => double.IsFinite(score.Score)) && (Embedding?.All(float.IsFinite) ?? true);

    /// <summary>The text's vector when the request asked for <see cref="EncoderOutput.Embedding"/>.</summary>
    public float[]? Embedding { get; init; }
}

/// <summary>A label and its probability (softmax, or sigmoid for multi-label heads).</summary>
public sealed record LabelScore(string Label, int Index, double Score);
