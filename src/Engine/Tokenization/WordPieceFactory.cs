using System.Text;
using Microsoft.ML.Tokenizers;

namespace InferServer.Engine.Tokenization;

/// <summary>BERT WordPiece on Microsoft.ML.Tokenizers' <see cref="BertTokenizer"/>, with BERT's basic tokenization
/// (lower-casing, accent stripping, punctuation and CJK splitting) done by <see cref="BertBasicTokenizer"/> in front of it,
/// since the library's own differs from transformers'.</summary>
internal static class WordPieceFactory
{
    private static readonly string[] BertSpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    /// <summary>Reads vocab.txt: one token per line, the id being the line number.</summary>
    public static TokenizerParts FromVocabularyFile(string path, TokenizerConfigFiles config)
    {
        var tokens = File.ReadAllLines(path);
        using var stream = File.OpenRead(path);
        var lowerCase = config.DoLowerCase ?? true;
        // BERT strips accents whenever it lower-cases (strip_accents unset), as the tokenizer.json path does.
        var options = new BertOptions { LowerCaseBeforeTokenization = lowerCase, RemoveNonSpacingMarks = lowerCase };
        return Create(path, tokens, stream, options, addedTokens: config.AddedTokens, template: null);
    }

    /// <param name="path"></param>
    /// <param name="tokensById">The vocabulary in id order (id = index).</param>
    /// <param name="vocabularyLines"></param>
    /// <param name="options"></param>
    /// <param name="addedTokens"></param>
    /// <param name="template">Prefix and suffix ids from the file's post-processor, or null for BERT's [CLS] … [SEP].</param>
    public static TokenizerParts Create(
        string path,
        IReadOnlyList<string> tokensById,
        Stream vocabularyLines,
        BertOptions options,
        IReadOnlyList<AddedToken> addedTokens,
        (IReadOnlyList<int> Prefix, IReadOnlyList<int> Suffix)? template)
    {
        BertTokenizer bert;
        try
        {
            // The library only runs WordPiece on the space-separated words BertBasicTokenizer produced (and keeps special tokens).
            bert = BertTokenizer.Create(vocabularyLines, new BertOptions
            {
                UnknownToken = options.UnknownToken,
                ContinuingSubwordPrefix = options.ContinuingSubwordPrefix,
                MaxInputCharsPerWord = options.MaxInputCharsPerWord,
                ApplyBasicTokenization = false,
                LowerCaseBeforeTokenization = false,
                RemoveNonSpacingMarks = false,
                IndividuallyTokenizeCjk = false,
            });
        }
        catch (Exception exception) when (exception is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new InvalidTokenizerFileException(path, $"Microsoft.ML.Tokenizers rejected the WordPiece vocabulary ({exception.Message})", exception);
        }

        var tokenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var id = 0; id < tokensById.Count; id++)
        {
            tokenIds.TryAdd(tokensById[id], id);
        }
        var special = BertSpecialTokens.Where(tokenIds.ContainsKey).Select(token => tokenIds[token])
            .Concat(addedTokens.Where(added => added.Special).Select(added => added.Id))
            .ToHashSet();
        var specialContent = special.Select(id => tokensById[id]).ToHashSet(StringComparer.Ordinal);
        var basic = new BertBasicTokenizer(options.LowerCaseBeforeTokenization, options.RemoveNonSpacingMarks, options.IndividuallyTokenizeCjk,
            specialContent);

        return new TokenizerParts
        {
            Kind = "wordpiece",
            EncodeWithoutSpecialTokens = text => bert.EncodeToIds(basic.Split(text), addSpecialTokens: false, considerPreTokenization: true, considerNormalization: true),
            TokenIds = tokenIds,
            TokenBytes = TokenizerParts.BytesTable(tokenIds, (token, _) => Encoding.UTF8.GetBytes(PieceText(token, specialContent.Contains(token)))),
            SpecialTokenIds = special,
            // Every word-initial piece carries the space that separates it from the previous word; the first has none.
            StripsLeadingSpace = true,
            PrefixTokenIds = template?.Prefix ?? [bert.ClassificationTokenId],
            SuffixTokenIds = template?.Suffix ?? [bert.SeparatorTokenId],
            UnknownTokenId = tokenIds.TryGetValue(options.UnknownToken, out var unknownId) ? unknownId : null,
        };
    }

    /// <summary>
    /// The text a piece contributes, token-locally, as Hugging Face's WordPiece decoder joins pieces: "##ing" glues to
    /// the previous piece, every other piece starts a new word, and clean_up_tokenization_spaces attaches ".", ",", "?"
    /// and "!" to the previous word. Its apostrophe rules (" ' " → "'", " 's" → "'s") need look-ahead and are not
    /// reproduced, so "it's" decodes as "it ' s": ids stay exact, only that spacing differs from transformers.
    /// </summary>
    private static string PieceText(string token, bool isSpecial)
    {
        if (!isSpecial && token.StartsWith("##", StringComparison.Ordinal) && token.Length > 2)
        {
            return token[2..];
        }
        return !isSpecial && token is "." or "," or "?" or "!" ? token : " " + token;
    }
}
