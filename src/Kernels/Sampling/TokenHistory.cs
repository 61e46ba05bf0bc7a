namespace InferServer.Kernels.Sampling;

/// <summary>
/// What the penalties need to know about one request's tokens: which ids occur in the prompt (repetition penalty, as HF
/// applies it over the whole <c>input_ids</c>, prompt included, and vLLM over prompt and output) and how often each id
/// occurs in the generated text (OpenAI presence and frequency penalties count generated tokens only). Counts, not
/// sequences, so appending is O(1) and the work per step is proportional to distinct tokens, not length.
/// </summary>
public sealed class TokenHistory
{
    private readonly HashSet<int> promptTokens;
    private readonly Dictionary<int, int> generatedCounts = [];

    /// <summary>A history that starts with the request's prompt.</summary>
    public TokenHistory(IEnumerable<int> promptTokenIds)
    {
        ArgumentNullException.ThrowIfNull(promptTokenIds);
        promptTokens = [];
        foreach (var tokenId in promptTokenIds)
        {
            ThrowIfNegative(tokenId);
            promptTokens.Add(tokenId);
            PromptLength++;
        }
    }

    /// <summary>Distinct token ids of the prompt.</summary>
    public IReadOnlySet<int> PromptTokens => promptTokens;

    /// <summary>Occurrences of each id in the generated text so far.</summary>
    public IReadOnlyDictionary<int, int> GeneratedCounts => generatedCounts;

    /// <summary>Number of prompt tokens, repeats included.</summary>
    public int PromptLength { get; }

    /// <summary>Number of generated tokens, repeats included.</summary>
    public int GeneratedLength { get; private set; }

    /// <summary>
    /// Records one generated token. The <see cref="Sampler"/> does not call this: the engine appends the tokens it
    /// commits, after its own stop checks.
    /// </summary>
    public void Append(int tokenId)
    {
        ThrowIfNegative(tokenId);
        generatedCounts[tokenId] = generatedCounts.GetValueOrDefault(tokenId) + 1;
        GeneratedLength++;
    }

    /// <summary>Whether the id occurs in the prompt or the generated text: the set the repetition penalty applies to.</summary>
    public bool Contains(int tokenId) => promptTokens.Contains(tokenId) || generatedCounts.ContainsKey(tokenId);

    private static void ThrowIfNegative(int tokenId)
    {
        if (tokenId < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tokenId), tokenId, "token ids are non-negative");
        }
    }
}
