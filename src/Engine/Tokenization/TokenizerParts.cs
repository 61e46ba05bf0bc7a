namespace InferServer.Engine.Tokenization;

/// <summary>
/// What a format-specific factory produces before the directory's config files are applied: how to encode, what each
/// id decodes to, and the special tokens the tokenizer file itself knows about.
/// </summary>
internal sealed record TokenizerParts
{
    public required string Kind { get; init; }
    public required Func<string, IReadOnlyList<int>> EncodeWithoutSpecialTokens { get; init; }
    public required IReadOnlyDictionary<string, int> TokenIds { get; init; }
    public required byte[]?[] TokenBytes { get; init; }
    public required IReadOnlySet<int> SpecialTokenIds { get; init; }
    public required bool StripsLeadingSpace { get; init; }
    public IReadOnlyList<int> PrefixTokenIds { get; init; } = [];
    public IReadOnlyList<int> SuffixTokenIds { get; init; } = [];
    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }
    public int? UnknownTokenId { get; init; }

    /// <summary>Builds the id → bytes table; ids the vocabulary skips stay null and decode to nothing.</summary>
    public static byte[]?[] BytesTable(IReadOnlyDictionary<string, int> tokenIds, Func<string, int, byte[]> bytesOf)
    {
        var table = new byte[]?[tokenIds.Count == 0 ? 0 : tokenIds.Values.Max() + 1];
        foreach (var (token, id) in tokenIds)
        {
            table[id] = bytesOf(token, id);
        }
        return table;
    }
}
