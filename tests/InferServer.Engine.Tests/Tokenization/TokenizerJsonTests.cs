using System.Text.Json.Nodes;
using InferServer.Engine.Tokenization;

namespace InferServer.Engine.Tests.Tokenization;

/// <summary>Hand-built tokenizer.json files: a tiny byte-level BPE (Qwen2/Llama 3 shape) and a tiny WordPiece.</summary>
public sealed class TokenizerJsonTests
{
    // Ids 0..7 are single characters of the byte alphabet ("Ġ" is the space byte), 8.. are merge results.
    private static readonly string[] BpeTokens = ["h", "e", "l", "o", "Ġ", "w", "r", "d", "he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "Ġworl", "Ġworld"];
    private static readonly string[] BpeMerges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d"];
    private const int BeginId = 17, EndId = 18;

    /// <summary>A 19-id byte-level BPE tokenizer.json (17 pieces, a begin and an end token).</summary>
    internal static JsonObject TinyBpe(JsonNode preTokenizer) => new()
    {
        ["version"] = "1.0",
        ["added_tokens"] = new JsonArray(
            new JsonObject { ["id"] = BeginId, ["content"] = "<|begin|>", ["special"] = true },
            new JsonObject { ["id"] = EndId, ["content"] = "<|end|>", ["special"] = true }),
        ["normalizer"] = new JsonObject { ["type"] = "NFC" },
        ["pre_tokenizer"] = preTokenizer,
        ["post_processor"] = new JsonObject
        {
            ["type"] = "TemplateProcessing",
            ["single"] = new JsonArray(
                new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<|begin|>", ["type_id"] = 0 } },
                new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
            ["special_tokens"] = new JsonObject { ["<|begin|>"] = new JsonObject { ["id"] = "<|begin|>", ["ids"] = new JsonArray(BeginId) } },
        },
        ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
        ["model"] = new JsonObject
        {
            ["type"] = "BPE",
            ["vocab"] = new JsonObject(BpeTokens.Select((token, id) => KeyValuePair.Create(token, (JsonNode?)id))),
            // Newer files write merges as pairs; both spellings must work.
            ["merges"] = new JsonArray([.. BpeMerges.Select((merge, i) => i % 2 == 0
                ? (JsonNode)merge
                : new JsonArray(merge.Split(' ')[0], merge.Split(' ')[1]))]),
        },
    };

    internal static JsonObject Gpt2ByteLevel() => new() { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true };

    private static JsonObject Llama3StyleSplit() => new()
    {
        ["type"] = "Sequence",
        ["pretokenizers"] = new JsonArray(
            new JsonObject
            {
                ["type"] = "Split",
                ["pattern"] = new JsonObject { ["Regex"] = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+" },
                ["behavior"] = "Isolated",
                ["invert"] = false,
            },
            new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false }),
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TinyByteLevelBpe_EncodesWithItsMerges_AndAddsTheTemplatesBeginToken(bool llama3Style)
    {
        using var directory = new TemporaryDirectory();
        directory.Write("tokenizer.json", TinyBpe(llama3Style ? Llama3StyleSplit() : Gpt2ByteLevel()).ToJsonString());

        var tokenizer = TokenizerLoader.Load(directory.Path);

        Assert.Equal("bpe", tokenizer.Kind);
        Assert.Equal([11, 16], tokenizer.Encode("hello world", addSpecialTokens: false));
        Assert.Equal([BeginId, 11, 16, EndId], tokenizer.Encode("hello world<|end|>", addSpecialTokens: true));
        Assert.Equal("hello world", tokenizer.Decode([BeginId, 11, 16, EndId], skipSpecialTokens: true));
        Assert.Equal("<|begin|>hello world<|end|>", tokenizer.Decode([BeginId, 11, 16, EndId], skipSpecialTokens: false));
        Assert.Equal(19, tokenizer.VocabularySize);
    }

    [Fact]
    public void ConfigFiles_SupplyEosIdsAndChatTemplate()
    {
        using var directory = new TemporaryDirectory();
        directory.Write("tokenizer.json", TinyBpe(Gpt2ByteLevel()).ToJsonString());
        directory.Write("tokenizer_config.json", """
            { "bos_token": "<|begin|>", "eos_token": { "content": "<|end|>", "special": true },
              "chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}" }
            """);
        directory.Write("generation_config.json", """{ "eos_token_id": [18, 4] }""");
        directory.Write("config.json", """{ "eos_token_id": 18, "bos_token_id": 17 }""");

        var tokenizer = TokenizerLoader.Load(directory.Path);

        Assert.Equal(BeginId, tokenizer.BosTokenId);
        Assert.Equal(EndId, tokenizer.EosTokenId);
        Assert.Equal([EndId, 4], tokenizer.EosTokenIds);
        Assert.Equal("{% for m in messages %}{{ m['content'] }}{% endfor %}", tokenizer.ChatTemplate);
    }

    [Fact]
    public void TinyWordPiece_UsesTheBertProcessingIds()
    {
        string[] tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!"];
        using var directory = new TemporaryDirectory();
        directory.Write("tokenizer.json", new JsonObject
        {
            ["normalizer"] = new JsonObject { ["type"] = "BertNormalizer", ["lowercase"] = true },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "BertProcessing",
                ["sep"] = new JsonArray("[SEP]", 3),
                ["cls"] = new JsonArray("[CLS]", 2),
            },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece",
                ["unk_token"] = "[UNK]",
                ["continuing_subword_prefix"] = "##",
                ["vocab"] = new JsonObject(tokens.Select((token, id) => KeyValuePair.Create(token, (JsonNode?)id))),
            },
        }.ToJsonString());

        var tokenizer = TokenizerLoader.Load(directory.Path);

        var ids = tokenizer.Encode("Hello Worlds!", addSpecialTokens: true);
        Assert.Equal([2, 5, 6, 7, 8, 3], ids);
        Assert.Equal("hello worlds!", tokenizer.Decode(ids, skipSpecialTokens: true));
    }
}
