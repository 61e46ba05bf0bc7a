namespace InferServer.Engine.Tokenization;

/// <summary>
/// Loads the tokenizer of a Hugging Face model directory. Files are tried in the order transformers prefers them:
/// tokenizer.json (fast tokenizer), then vocab.json + merges.txt (GPT-2 byte-level BPE), then vocab.txt (BERT
/// WordPiece), then tokenizer.model (SentencePiece). A tokenizer.json that only a SentencePiece model can reproduce
/// (Llama 2 / Mistral style byte-fallback BPE, Unigram) defers to tokenizer.model when the directory has one.
/// Special tokens come from the tokenizer file, tokenizer_config.json, special_tokens_map.json, generation_config.json
/// and config.json (see <see cref="TokenizerConfigFiles"/>).
/// </summary>
public static class TokenizerLoader
{
    public static TextTokenizer Load(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (!Directory.Exists(modelDirectory))
        {
            throw new DirectoryNotFoundException($"Model directory {modelDirectory} does not exist.");
        }
        var config = TokenizerConfigFiles.Read(modelDirectory);
        var tokenizerJson = Path.Combine(modelDirectory, "tokenizer.json");
        var vocabularyJson = Path.Combine(modelDirectory, "vocab.json");
        var merges = Path.Combine(modelDirectory, "merges.txt");
        var vocabularyText = Path.Combine(modelDirectory, "vocab.txt");
        var sentencePieceModel = Path.Combine(modelDirectory, "tokenizer.model");

        TokenizerParts? parts = null;
        if (File.Exists(tokenizerJson))
        {
            parts = ReadingFile(tokenizerJson, () => TokenizerJsonFactory.Create(tokenizerJson, config, File.Exists(sentencePieceModel)));
        }
        else if (File.Exists(vocabularyJson) && File.Exists(merges))
        {
            parts = ReadingFile(vocabularyJson, () => ByteLevelBpeFactory.FromVocabularyAndMerges(vocabularyJson, merges, config));
        }
        else if (File.Exists(vocabularyText))
        {
            parts = ReadingFile(vocabularyText, () => WordPieceFactory.FromVocabularyFile(vocabularyText, config));
        }
        else if (!File.Exists(sentencePieceModel))
        {
            throw new UnsupportedTokenizerException(modelDirectory, "none",
                "the directory has no tokenizer.json, vocab.json + merges.txt, vocab.txt or tokenizer.model.");
        }
        parts ??= ReadingFile(sentencePieceModel, () => SentencePieceFactory.FromModelFile(sentencePieceModel, config));
        return new TextTokenizer(Complete(parts, config));
    }

    /// <summary>Applies the config files' special tokens on top of what the tokenizer file itself says. Token strings
    /// (tokenizer_config.json) win over the file's own ids; EOS ids from every source are kept, since generation
    /// must stop on any of them.</summary>
    private static TextTokenizerDefinition Complete(TokenizerParts parts, TokenizerConfigFiles config)
    {
        int? IdOf(string? token) => token is not null && parts.TokenIds.TryGetValue(token, out var id) ? id : null;

        var bos = IdOf(config.BosToken) ?? parts.BosTokenId ?? config.BosTokenId;
        int?[] eosCandidates = [IdOf(config.EosToken) ?? parts.EosTokenId, .. config.EosTokenIds.Select(id => (int?)id)];
        var eos = eosCandidates.OfType<int>().Where(id => id < parts.TokenBytes.Length).Distinct().ToList();
        var pad = IdOf(config.PadToken);
        var unknown = IdOf(config.UnknownToken) ?? parts.UnknownTokenId;

        var special = new HashSet<int>(parts.SpecialTokenIds);
        special.UnionWith(config.AddedTokens.Where(added => added.Special && parts.TokenIds.ContainsKey(added.Content)).Select(added => added.Id));
        special.UnionWith(new[] { bos, pad, unknown }.OfType<int>().Concat(eos));

        return new TextTokenizerDefinition
        {
            Kind = parts.Kind,
            EncodeWithoutSpecialTokens = parts.EncodeWithoutSpecialTokens,
            PrefixTokenIds = parts.PrefixTokenIds,
            SuffixTokenIds = parts.SuffixTokenIds,
            TokenBytes = parts.TokenBytes,
            SpecialTokenIds = special,
            StripsLeadingSpace = parts.StripsLeadingSpace,
            TokenIds = parts.TokenIds,
            BosTokenId = bos,
            EosTokenIds = eos,
            PadTokenId = pad,
            UnknownTokenId = unknown,
            ChatTemplate = config.ChatTemplate,
            BosToken = config.BosToken ?? TextOf(parts, bos),
            EosToken = config.EosToken ?? TextOf(parts, eos.Count > 0 ? eos[0] : null),
        };
    }

    // The text of a special token the config files do not name (a SentencePiece model's own <s> and </s>).
    private static string? TextOf(TokenizerParts parts, int? id) =>
        id is { } wanted ? parts.TokenIds.Where(entry => entry.Value == wanted).Select(entry => entry.Key).FirstOrDefault() : null;

    /// <summary>Turns whatever a half-valid file makes the JSON readers or the library throw into one error naming the file.</summary>
    private static T ReadingFile<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception exception) when (exception is not (UnsupportedTokenizerException or InvalidTokenizerFileException or OutOfMemoryException))
        {
            throw new InvalidTokenizerFileException(path, $"{exception.GetType().Name}: {exception.Message}", exception);
        }
    }
}
