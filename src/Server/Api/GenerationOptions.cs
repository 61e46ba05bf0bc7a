namespace InferServer.Server.Api;

/// <summary>
/// How to generate, as a request asked for it, in neither front door's types: gRPC maps its GenerationParams here
/// (<see cref="GenerationMapper"/>), the OpenAI port its body's fields. <see cref="GenerationMapper"/> checks it against
/// the configured limits, naming fields by the API's own paths (params.max_new_tokens, params.sampling.top_p, …).
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Tokens to generate at most; 0 = the server's default.</summary>
    public int MaxNewTokens { get; init; }

    /// <summary>Sampling temperature; null = 1.</summary>
    public double? Temperature { get; init; }

    /// <summary>Top-k; 0 = off.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus mass; null = 1 (off).</summary>
    public double? TopP { get; init; }

    /// <summary>Min-p; 0 = off.</summary>
    public double MinP { get; init; }

    /// <summary>Repetition penalty; null = 1 (off).</summary>
    public double? RepetitionPenalty { get; init; }

    /// <summary>Presence penalty; 0 = off.</summary>
    public double PresencePenalty { get; init; }

    /// <summary>Frequency penalty; 0 = off.</summary>
    public double FrequencyPenalty { get; init; }

    /// <summary>Sampling seed; null = random.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Strings that end the output.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>Token ids that end the output.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Keep going past the end-of-sequence token.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Return each token's logprob.</summary>
    public bool Logprobs { get; init; }

    /// <summary>Alternatives per token with their logprobs.</summary>
    public int TopLogprobs { get; init; }

    /// <summary>The output is a JSON object (JSON mode).</summary>
    public bool JsonObject { get; init; }

    /// <summary>The output validates against this JSON Schema (text); empty = none.</summary>
    public string JsonSchema { get; init; } = "";

    /// <summary>Whether a response format constrains the output.</summary>
    public bool FormatConstrained => JsonObject || JsonSchema.Length > 0;
}
