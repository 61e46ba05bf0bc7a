namespace InferServer.Engine.Tokenization;

/// <summary>
/// GPT-2's reversible byte-to-character map (openai/gpt-2 encoder.py <c>bytes_to_unicode</c>), shared by every
/// byte-level BPE (GPT-2, RoBERTa, Llama 3, Qwen2): printable bytes map to themselves, the other 68 bytes to U+0100
/// onwards, so that every token is a printable string (a space is "Ġ", a newline "Ċ").
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToCharTable = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByteTable =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToCharTable[b], b => (byte)b);

    public static char ByteToChar(byte value) => ByteToCharTable[value];

    /// <summary>The raw bytes a byte-level token stands for. A character outside the alphabet (a hand-written
    /// vocabulary entry) contributes its own UTF-8 bytes.</summary>
    public static byte[] TokenToBytes(string token)
    {
        var bytes = new List<byte>(token.Length);
        foreach (var character in token)
        {
            if (CharToByteTable.TryGetValue(character, out var value))
            {
                bytes.Add(value);
            }
            else
            {
                bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(character.ToString()));
            }
        }
        return [.. bytes];
    }

    public static string BytesToToken(ReadOnlySpan<byte> bytes)
    {
        var characters = new char[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            characters[i] = ByteToCharTable[bytes[i]];
        }
        return new string(characters);
    }

    private static char[] BuildByteToChar()
    {
        var table = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }
}
