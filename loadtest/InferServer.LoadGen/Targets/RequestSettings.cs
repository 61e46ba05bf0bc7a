namespace InferServer.LoadGen.Targets;

/// <summary>What every request of a run asks for.</summary>
/// <param name="Kind">What is called.</param>
/// <param name="PromptWords">Words in each generation prompt.</param>
/// <param name="MaxNewTokens">Tokens to generate; EOS is ignored so every request generates exactly this many.</param>
/// <param name="ClassifyTexts">Texts per Classify or Embed call.</param>
public sealed record RequestSettings(RequestKind Kind, int PromptWords, int MaxNewTokens, int ClassifyTexts)
{
    // Common English words: GPT-2's BPE gives each, with its leading space, a single id below 32,000, so prompts fit
    // Llama-sized vocabularies too. The prompt starts with a space because a first word without one tokenizes
    // differently ("friend" is 48381, " friend" 1545).
    private static readonly string[] Words =
    [
        "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "and", "then", "runs", "to", "see", "what",
        "is", "in", "house", "of", "his", "old", "friend", "who", "said", "that", "it", "was", "time", "for", "water",
    ];

    /// <summary>The prompt of request <paramref name="index"/>: the word list rotated by the index, so prompts differ (no prefix sharing).</summary>
    public string Prompt(int index) =>
        " " + string.Join(' ', Enumerable.Range(0, PromptWords).Select(i => Words[(index * 7 + i) % Words.Length]));
}

/// <summary>The RPC a run drives.</summary>
public enum RequestKind
{
    /// <summary>Unary Generate.</summary>
    Generate,
    /// <summary>Server-streaming GenerateStream (client-side TTFT).</summary>
    Stream,
    /// <summary>Classify (encoder models).</summary>
    Classify,
    /// <summary>Embed (encoder models): the same texts as Classify, one vector each.</summary>
    Embed,
}
