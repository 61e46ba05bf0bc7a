using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace InferServer.Engine.Tokenization;

/// <summary>SentencePiece tokenizer.model files (Llama 2, Mistral, T5; BPE or Unigram) on Microsoft.ML.Tokenizers'
/// <see cref="SentencePieceTokenizer"/>.</summary>
internal static class SentencePieceFactory
{
    public static TokenizerParts FromModelFile(string path, TokenizerConfigFiles config)
    {
        var spm = Create(path, specialTokens: null);
        // Added tokens beyond the model's own pieces (Mistral's [INST], chat markers) are matched whole, like HF does.
        var extra = config.AddedTokens.Where(added => !spm.Vocabulary.ContainsKey(added.Content)).ToList();
        if (extra.Count > 0)
        {
            spm = Create(path, extra.ToDictionary(added => added.Content, added => added.Id, StringComparer.Ordinal));
        }

        var tokenIds = new Dictionary<string, int>(spm.Vocabulary, StringComparer.Ordinal);
        foreach (var added in extra)
        {
            tokenIds[added.Content] = added.Id;
        }
        var control = new HashSet<int> { spm.BeginningOfSentenceId, spm.EndOfSentenceId, spm.UnknownId };
        var special = control.Concat(config.AddedTokens.Where(added => added.Special).Select(added => added.Id)).ToHashSet();
        var literal = control.Concat(extra.Select(added => added.Id)).ToHashSet();
        var byteFallback = spm.ByteFallback;

        return new TokenizerParts
        {
            Kind = "sentencepiece",
            EncodeWithoutSpecialTokens = text => spm.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false, considerPreTokenization: true, considerNormalization: true),
            TokenIds = tokenIds,
            TokenBytes = TokenizerParts.BytesTable(tokenIds, (piece, id) => PieceBytes(piece, literal.Contains(id), byteFallback)),
            SpecialTokenIds = special,
            // The model prepends "▁" to the input (add_dummy_prefix); decoding drops that one space again.
            StripsLeadingSpace = spm.AddDummyPrefix,
            PrefixTokenIds = config.AddBosToken ?? true ? [spm.BeginningOfSentenceId] : [],
            SuffixTokenIds = config.AddEosToken ?? false ? [spm.EndOfSentenceId] : [],
            BosTokenId = spm.BeginningOfSentenceId,
            EosTokenId = spm.EndOfSentenceId,
            UnknownTokenId = spm.UnknownId,
        };
    }

    private static SentencePieceTokenizer Create(string path, IReadOnlyDictionary<string, int>? specialTokens)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false, specialTokens);
        }
        catch (Exception exception) when (exception is Google.Protobuf.InvalidProtocolBufferException or ArgumentException or InvalidOperationException or NotSupportedException or IOException)
        {
            throw new InvalidTokenizerFileException(path, $"Microsoft.ML.Tokenizers could not read the SentencePiece model ({exception.Message})", exception);
        }
    }

    /// <summary>"▁" is SentencePiece's escaped space; "&lt;0xE2&gt;" is a byte-fallback piece standing for one raw byte.</summary>
    private static byte[] PieceBytes(string piece, bool isLiteral, bool byteFallback)
    {
        if (isLiteral)
        {
            return Encoding.UTF8.GetBytes(piece);
        }
        if (byteFallback && piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var value))
        {
            return [value];
        }
        return Encoding.UTF8.GetBytes(piece.Replace('▁', ' '));
    }
}
