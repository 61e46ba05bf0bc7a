using System.Text;

namespace InferServer.Engine.Tokenization;

/// <summary>
/// Turns generated ids into text one id at a time, for streaming. Each <see cref="Push"/> returns only text that can
/// no longer change: a byte-level BPE token may end halfway through a UTF-8 character (an emoji is often two or three
/// tokens), and those bytes are held until the character completes, so no delta ever contains U+FFFD or half a
/// surrogate pair because of a split. The concatenation of every delta and <see cref="Flush"/> equals
/// <see cref="TextTokenizer.Decode"/> of the same ids with the same <c>skipSpecialTokens</c>.
/// </summary>
/// <remarks>
/// Stop strings: <see cref="Text"/> is everything emitted so far. An engine that must not stream past a stop string
/// should append each delta to its own pending buffer, search <see cref="Text"/> for the stop strings, and release
/// pending text only up to the point where no suffix of <see cref="Text"/> is a prefix of a stop string.
/// One instance per sequence; not thread-safe.
/// </remarks>
internal sealed class IncrementalDetokenizer
{
    private readonly TextTokenizer tokenizer;
    private readonly bool skipSpecialTokens;
    private readonly Decoder utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly List<byte> tokenBytes = [];
    private readonly StringBuilder text = new();
    private char[] characters = new char[64];
    private bool atStart = true;

    public IncrementalDetokenizer(TextTokenizer tokenizer, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>All text emitted so far (the concatenation of every returned delta).</summary>
    public string Text => text.ToString();

    /// <summary>Adds one generated id and returns the text that became stable because of it (often empty).</summary>
    public string Push(int tokenId)
    {
        tokenBytes.Clear();
        tokenizer.AppendTokenBytes(tokenId, skipSpecialTokens, ref atStart, tokenBytes);
        return DecodePending(flush: false);
    }

    /// <summary>Ends the sequence: bytes still waiting for the rest of a character are emitted as U+FFFD, exactly as
    /// <see cref="TextTokenizer.Decode"/> renders a sequence that stops mid-character.</summary>
    public string Flush()
    {
        tokenBytes.Clear();
        return DecodePending(flush: true);
    }

    private string DecodePending(bool flush)
    {
        var bytes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokenBytes);
        var needed = utf8.GetCharCount(bytes, flush);
        if (needed > characters.Length)
        {
            characters = new char[Math.Max(needed, characters.Length * 2)];
        }
        // The decoder keeps an incomplete trailing sequence in its own state until flush, which is the hold-back.
        var written = utf8.GetChars(bytes, characters, flush);
        if (written == 0)
        {
            return string.Empty;
        }
        var delta = new string(characters, 0, written);
        text.Append(delta);
        return delta;
    }
}
