using System.Globalization;
using System.Text;

namespace InferServer.Engine.Tokenization;

/// <summary>
/// BERT's basic tokenization (transformers' BasicTokenizer, tokenization_bert.py), in front of WordPiece. Microsoft.ML.Tokenizers'
/// own BertTokenizer differs from it: it drops symbols (`$ &lt; &gt; ^ | ~ + =`, ©, emoji) instead of keeping them as
/// tokens or [UNK], glues words across tabs and newlines, and keeps accents unless told; so we split here and hand it
/// words separated by single spaces. Steps, in transformers' order: special tokens are cut out first and kept whole;
/// then drop NUL, U+FFFD and control characters (categories C*, except tab, newline, return), map whitespace to a space,
/// surround CJK ideographs with spaces, NFC, split on spaces, lower-case, strip accents (NFD, drop Mn), and split every
/// punctuation character (ASCII 33–47, 58–64, 91–96, 123–126 and categories P*) into its own word.
/// </summary>
internal sealed class BertBasicTokenizer(bool lowerCase, bool stripAccents, bool splitCjk, IReadOnlyCollection<string> specialTokens)
{
    private readonly string[] specials = specialTokens.Where(t => t.Length > 0).OrderByDescending(t => t.Length).ToArray();

    /// <summary>The words of <paramref name="text"/>, joined by single spaces.</summary>
    public string Split(string text)
    {
        var words = new List<string>();
        var start = 0;
        while (start < text.Length)
        {
            var (at, special) = NextSpecial(text, start);
            BasicWords(text[start..at], words);
            if (special is null)
            {
                break;
            }

            words.Add(special);
            start = at + special.Length;
        }
        return string.Join(' ', words);
    }

    private (int At, string? Special) NextSpecial(string text, int from)
    {
        var best = (At: text.Length, Special: (string?)null);
        foreach (var special in specials)
        {
            var at = text.IndexOf(special, from, StringComparison.Ordinal);
            if (at >= 0 && at < best.At)
            {
                best = (at, special);
            }
        }
        return best;
    }

    private void BasicWords(string text, List<string> words)
    {
        var cleaned = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value is 0 or 0xFFFD || IsControl(rune))
            {
                continue;
            }

            if (IsWhitespace(rune))
            {
                cleaned.Append(' ');
            }
            else if (splitCjk && IsCjkIdeograph(rune.Value))
            {
                cleaned.Append(' ').Append(rune.ToString()).Append(' ');
            }
            else
            {
                cleaned.Append(rune.ToString());
            }
        }
        foreach (var token in cleaned.ToString().Normalize(NormalizationForm.FormC).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var word = lowerCase ? token.ToLowerInvariant() : token;
            if (stripAccents)
            {
                word = StripAccents(word);
            }

            var current = new StringBuilder();
            foreach (var rune in word.EnumerateRunes())
            {
                if (!IsPunctuation(rune))
                {
                    current.Append(rune.ToString());
                    continue;
                }
                if (current.Length > 0)
                {
                    words.Add(current.ToString());
                }

                current.Clear();
                words.Add(rune.ToString());
            }
            if (current.Length > 0)
            {
                words.Add(current.ToString());
            }
        }
    }

    private static string StripAccents(string word)
    {
        var decomposed = word.Normalize(NormalizationForm.FormD);
        var kept = new StringBuilder(decomposed.Length);
        foreach (var rune in decomposed.EnumerateRunes())
        {
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark)
            {
                kept.Append(rune.ToString());
            }
        }
        return kept.ToString();
    }

    private static bool IsWhitespace(Rune rune) =>
        rune.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(rune) == UnicodeCategory.SpaceSeparator;

    /// <summary>Python's unicodedata category starting with "C": Cc, Cf, Cs, Co, Cn.</summary>
    private static bool IsControl(Rune rune) =>
        rune.Value is not ('\t' or '\n' or '\r') && Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    private static bool IsPunctuation(Rune rune) =>
        rune.Value is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126
        || Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    /// <summary>The CJK Unified Ideographs blocks transformers' _is_chinese_char lists.</summary>
    private static bool IsCjkIdeograph(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
