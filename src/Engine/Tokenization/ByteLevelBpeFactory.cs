using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace InferServer.Engine.Tokenization;

/// <summary>Byte-level BPE (GPT-2, RoBERTa, Llama 3, Qwen2) on Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>.</summary>
internal static class ByteLevelBpeFactory
{
    /// <summary>GPT-2's pre-tokenizer split (openai/gpt-2 encoder.py), also what Hugging Face's ByteLevel pre-tokenizer
    /// applies when <c>use_regex</c> is true.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static TokenizerParts Create(
        string path,
        IReadOnlyDictionary<string, int> vocabulary,
        IEnumerable<string> merges,
        IReadOnlyList<AddedToken> addedTokens,
        string splitPattern,
        NormalizationForm? normalization)
    {
        var tokenIds = new Dictionary<string, int>(vocabulary, StringComparer.Ordinal);
        foreach (var added in addedTokens)
        {
            tokenIds[added.Content] = added.Id;
        }
        // Hugging Face matches every added token whole in the input, special or not, before the split regex runs.
        var wholeTokens = addedTokens.ToDictionary(added => added.Content, added => added.Id, StringComparer.Ordinal);

        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(new BpeOptions(tokenIds)
            {
                Merges = merges,
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(new Regex(splitPattern, RegexOptions.Compiled), wholeTokens),
                SpecialTokens = wholeTokens.Count > 0 ? wholeTokens : null,
            });
        }
        catch (Exception exception) when (exception is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new InvalidTokenizerFileException(path, $"Microsoft.ML.Tokenizers rejected the BPE vocabulary or merges ({exception.Message})", exception);
        }

        var addedContent = addedTokens.ToDictionary(added => added.Id, added => added.Content);
        return new TokenizerParts
        {
            Kind = "bpe",
            EncodeWithoutSpecialTokens = normalization is { } form
                ? text => bpe.EncodeToIds(text.Normalize(form))
                : text => bpe.EncodeToIds(text),
            TokenIds = tokenIds,
            // Added tokens are stored as plain text, everything else in the byte alphabet.
            TokenBytes = TokenizerParts.BytesTable(tokenIds, (token, id) => addedContent.TryGetValue(id, out var content)
                ? Encoding.UTF8.GetBytes(content)
                : ByteLevelAlphabet.TokenToBytes(token)),
            SpecialTokenIds = addedTokens.Where(added => added.Special).Select(added => added.Id).ToHashSet(),
            StripsLeadingSpace = false,
        };
    }

    /// <summary>GPT-2 style vocab.json + merges.txt, as the slow GPT2Tokenizer reads them.</summary>
    public static TokenizerParts FromVocabularyAndMerges(string vocabularyPath, string mergesPath, TokenizerConfigFiles config)
    {
        Dictionary<string, int> vocabulary;
        try
        {
            vocabulary = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabularyPath))
                ?? throw new InvalidTokenizerFileException(vocabularyPath, "the vocabulary is null.");
        }
        catch (System.Text.Json.JsonException exception)
        {
            throw new InvalidTokenizerFileException(vocabularyPath, $"malformed JSON ({exception.Message})", exception);
        }
        // merges.txt opens with a "#version: 0.2" line; blank lines carry nothing.
        var merges = File.ReadLines(mergesPath).Where(line => line.Length > 0 && !line.StartsWith("#version", StringComparison.Ordinal)).ToList();

        // The slow tokenizer treats its named special tokens as whole tokens even when no added_tokens_decoder lists them.
        var added = config.AddedTokens.ToList();
        foreach (var token in new[] { config.BosToken, config.EosToken, config.UnknownToken, config.PadToken })
        {
            if (token is not null && vocabulary.TryGetValue(token, out var id) && added.All(existing => existing.Content != token))
            {
                added.Add(new AddedToken(id, token, Special: true));
            }
        }
        return Create(vocabularyPath, vocabulary, merges, added, Gpt2Pattern, normalization: null);
    }
}
