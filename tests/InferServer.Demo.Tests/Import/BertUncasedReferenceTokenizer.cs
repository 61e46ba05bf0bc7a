using System.Globalization;
using System.Text;

namespace InferServer.Demo.Tests.Import;

/// <summary>
/// transformers' BertTokenizer (do_lower_case, tokenize_chinese_chars, strip_accents unset) written out step by step
/// from tokenization_bert.py: the slow, obviously correct reference the served tokenizer is compared with.
/// BasicTokenizer: clean (drop NUL, U+FFFD and control characters, map whitespace to ' '), space out CJK ideographs,
/// NFC, split on whitespace, lower-case, strip accents (NFD, drop Mn), split off punctuation. WordPiece: greedy longest
/// match first with "##" continuations; a word with an unmatched rest, or over 100 characters, is [UNK].
/// </summary>
public sealed class BertUncasedReferenceTokenizer(IReadOnlyList<string> vocabulary)
{
    private readonly Dictionary<string, int> ids = vocabulary.Select((token, id) => (token, id))
        .GroupBy(p => p.token).ToDictionary(g => g.Key, g => g.First().id, StringComparer.Ordinal);

    /// <summary>[CLS] pieces [SEP] as ids.</summary>
    public IReadOnlyList<int> Encode(string text) =>
        [ids["[CLS]"], .. BasicTokens(text).SelectMany(WordPiece), ids["[SEP]"]];

    private IEnumerable<int> WordPiece(string word)
    {
        var runes = word.EnumerateRunes().Select(r => r.ToString()).ToArray();
        if (runes.Length > 100)
            return [ids["[UNK]"]];
        var pieces = new List<int>();
        for (var start = 0; start < runes.Length;)
        {
            int? found = null;
            var end = runes.Length;
            for (; end > start; end--)
            {
                var piece = (start > 0 ? "##" : "") + string.Concat(runes[start..end]);
                if (ids.TryGetValue(piece, out var id))
                {
                    found = id;
                    break;
                }
            }
            if (found is null)
                return [ids["[UNK]"]];
            pieces.Add(found.Value);
            start = end;
        }
        return pieces;
    }

    private static IEnumerable<string> BasicTokens(string text)
    {
        var cleaned = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value is 0 or 0xFFFD || IsControl(rune))
                continue;
            if (IsWhitespace(rune))
                cleaned.Append(' ');
            else if (IsChinese(rune.Value))
                cleaned.Append(' ').Append(rune.ToString()).Append(' ');
            else
                cleaned.Append(rune.ToString());
        }
        var split = new List<string>();
        foreach (var token in cleaned.ToString().Normalize(NormalizationForm.FormC).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var stripped = string.Concat(token.ToLowerInvariant().Normalize(NormalizationForm.FormD).EnumerateRunes()
                .Where(r => Rune.GetUnicodeCategory(r) != UnicodeCategory.NonSpacingMark).Select(r => r.ToString()));
            var current = new StringBuilder();
            foreach (var rune in stripped.EnumerateRunes())
            {
                if (IsPunctuation(rune))
                {
                    if (current.Length > 0)
                        split.Add(current.ToString());
                    current.Clear();
                    split.Add(rune.ToString());
                }
                else
                {
                    current.Append(rune.ToString());
                }
            }
            if (current.Length > 0)
                split.Add(current.ToString());
        }
        return split.SelectMany(t => t.Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    private static bool IsWhitespace(Rune rune) =>
        rune.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(rune) == UnicodeCategory.SpaceSeparator;

    private static bool IsControl(Rune rune) =>
        rune.Value is not ('\t' or '\n' or '\r') && Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    private static bool IsPunctuation(Rune rune) =>
        rune.Value is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126
        || Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    private static bool IsChinese(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
