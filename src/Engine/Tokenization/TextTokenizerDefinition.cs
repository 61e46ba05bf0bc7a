namespace InferServer.Engine.Tokenization;

/// <summary>
/// Everything <see cref="TokenizerLoader"/> works out about one tokenizer, handed to <see cref="TextTokenizer"/> in one
/// piece. Decoding is table-driven (<see cref="TokenBytes"/>, <see cref="SpecialTokenIds"/>,
/// <see cref="StripsLeadingSpace"/>) rather than delegated to the library, so that <see cref="TextTokenizer.Decode"/> and
/// <see cref="IncrementalDetokenizer"/> share one definition and cannot drift apart.
/// </summary>
internal sealed record TextTokenizerDefinition
{
    public required string Kind { get; init; }

    /// <summary>Text to ids without any special tokens added around it (special tokens written in the text still map
    /// to their ids, as in Hugging Face).</summary>
    public required Func<string, IReadOnlyList<int>> EncodeWithoutSpecialTokens { get; init; }

    /// <summary>Ids added before and after the text when the caller asks for special tokens (BOS, [CLS] … [SEP]).</summary>
    public required IReadOnlyList<int> PrefixTokenIds { get; init; }

    public required IReadOnlyList<int> SuffixTokenIds { get; init; }

    /// <summary>The UTF-8 bytes each id contributes to decoded text, indexed by id; null for an id with no token.</summary>
    public required byte[]?[] TokenBytes { get; init; }

    public required IReadOnlySet<int> SpecialTokenIds { get; init; }

    /// <summary>Drop one space at the very start of decoded text: SentencePiece's dummy prefix ("▁Hello" alone decodes
    /// to "Hello"), and WordPiece, whose word-initial pieces carry the space that separates them from the previous word.</summary>
    public required bool StripsLeadingSpace { get; init; }

    public required IReadOnlyDictionary<string, int> TokenIds { get; init; }

    public int? BosTokenId { get; init; }

    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    public int? PadTokenId { get; init; }

    public int? UnknownTokenId { get; init; }

    public string? ChatTemplate { get; init; }

    /// <summary>The BOS and EOS tokens as text, for chat templates (transformers passes them as bos_token and eos_token).</summary>
    public string? BosToken { get; init; }

    public string? EosToken { get; init; }
}
