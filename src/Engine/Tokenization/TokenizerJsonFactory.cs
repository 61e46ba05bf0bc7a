using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;

namespace InferServer.Engine.Tokenization;

/// <summary>
/// Hugging Face fast-tokenizer files (tokenizer.json; format: huggingface/tokenizers <c>tokenizer/serialization.rs</c>).
/// We read the pipeline pieces whose effect we reproduce exactly and refuse the rest by name.
/// </summary>
internal static class TokenizerJsonFactory
{
    /// <summary>Null when the file describes a SentencePiece-style BPE (byte fallback, Metaspace) and
    /// <paramref name="sentencePieceFallback"/> exists: the caller loads tokenizer.model instead.</summary>
    public static TokenizerParts? Create(string path, TokenizerConfigFiles config, bool sentencePieceFallback)
    {
        var root = TokenizerConfigFiles.ReadJsonObject(path)!;
        var model = root["model"] as JsonObject ?? throw new InvalidTokenizerFileException(path, "it has no \"model\" object.");
        var type = model["type"]?.GetValue<string>()
            // Files written before "type" was serialized are BPE when they have merges.
            ?? (model["merges"] is not null ? "BPE" : throw new InvalidTokenizerFileException(path, "\"model\" has no \"type\"."));
        var addedTokens = ReadAddedTokens(root["added_tokens"] as JsonArray);

        switch (type)
        {
            case "BPE":
                if (IsSentencePieceStyle(root, model))
                {
                    return sentencePieceFallback ? null : throw new UnsupportedTokenizerException(path, "BPE (SentencePiece-style)",
                        "byte_fallback/Metaspace BPE needs byte fallback, which Microsoft.ML.Tokenizers 2.0's BpeTokenizer lacks; " +
                        "put the model's tokenizer.model next to it and that file is used instead.");
                }
                return CreateByteLevelBpe(path, root, model, addedTokens);
            case "WordPiece":
                return CreateWordPiece(path, root, model, addedTokens);
            case "Unigram" or "WordLevel":
                return sentencePieceFallback && type == "Unigram" ? null : throw new UnsupportedTokenizerException(path, type,
                    "Microsoft.ML.Tokenizers 2.0 cannot build this model type from tokenizer.json (it reads Unigram only from a SentencePiece tokenizer.model).");
            default:
                throw new UnsupportedTokenizerException(path, type, "unknown model type.");
        }
    }

    private static bool IsSentencePieceStyle(JsonObject root, JsonObject model) =>
        (model["byte_fallback"] is JsonValue fallback && fallback.GetValue<bool>())
        || TypesIn(root["pre_tokenizer"]).Contains("Metaspace")
        || TypesIn(root["decoder"]).Contains("Metaspace");

    private static TokenizerParts CreateByteLevelBpe(string path, JsonObject root, JsonObject model, List<AddedToken> addedTokens)
    {
        if (!TypesIn(root["pre_tokenizer"]).Contains("ByteLevel") && !TypesIn(root["decoder"]).Contains("ByteLevel"))
        {
            throw new UnsupportedTokenizerException(path, "BPE (not byte-level)",
                "only byte-level BPE (a ByteLevel pre-tokenizer, as GPT-2, Llama 3 and Qwen2 use) is supported.");
        }
        foreach (var key in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (model[key] is JsonValue value && value.GetValue<string>() is { Length: > 0 } text)
            {
                throw new UnsupportedTokenizerException(path, "BPE", $"model.{key} = \"{text}\" is not supported with byte-level BPE.");
            }
        }
        var vocabulary = ReadVocabulary(path, model);
        // Merges are "a b" strings, or since tokenizers 0.20 ["a", "b"] pairs; byte-level tokens never contain a space.
        var merges = (model["merges"] as JsonArray ?? throw new InvalidTokenizerFileException(path, "model.merges is missing."))
            .Select(merge => merge switch
            {
                JsonArray pair when pair.Count == 2 => $"{pair[0]!.GetValue<string>()} {pair[1]!.GetValue<string>()}",
                JsonValue text => text.GetValue<string>(),
                _ => throw new InvalidTokenizerFileException(path, $"unreadable merge entry {merge?.ToJsonString()}."),
            })
            .ToList();
        var parts = ByteLevelBpeFactory.Create(path, vocabulary, merges, addedTokens, SplitPattern(path, root["pre_tokenizer"]), Normalization(path, root["normalizer"]));
        var (prefix, suffix) = PostProcessorTemplate(path, root["post_processor"], parts.TokenIds);
        return parts with { PrefixTokenIds = prefix, SuffixTokenIds = suffix };
    }

    private static TokenizerParts CreateWordPiece(string path, JsonObject root, JsonObject model, List<AddedToken> addedTokens)
    {
        var vocabulary = ReadVocabulary(path, model);
        var tokensById = new string[vocabulary.Count];
        foreach (var (token, id) in vocabulary)
        {
            if ((uint)id >= (uint)tokensById.Length || tokensById[id] is not null)
            {
                throw new InvalidTokenizerFileException(path, "WordPiece ids must be exactly 0..n-1, each used once.");
            }
            tokensById[id] = token;
        }
        var normalizer = root["normalizer"] as JsonObject;
        var normalizerType = normalizer?["type"]?.GetValue<string>();
        if (normalizer is not null && normalizerType != "BertNormalizer")
        {
            throw new UnsupportedTokenizerException(path, $"WordPiece with {normalizerType} normalizer", "only BertNormalizer is supported with WordPiece.");
        }
        var lowercase = Bool(normalizer?["lowercase"]) ?? true;
        var options = new BertOptions
        {
            LowerCaseBeforeTokenization = lowercase,
            // BERT strips accents whenever it lower-cases, unless strip_accents says otherwise.
            RemoveNonSpacingMarks = Bool(normalizer?["strip_accents"]) ?? lowercase,
            IndividuallyTokenizeCjk = Bool(normalizer?["handle_chinese_chars"]) ?? true,
            UnknownToken = model["unk_token"]?.GetValue<string>() ?? "[UNK]",
            ContinuingSubwordPrefix = model["continuing_subword_prefix"]?.GetValue<string>() ?? "##",
            MaxInputCharsPerWord = model["max_input_chars_per_word"]?.GetValue<int>() ?? 100,
        };
        var stream = new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\n', tokensById)));
        var tokenIds = vocabulary.ToDictionary(StringComparer.Ordinal);
        (IReadOnlyList<int>, IReadOnlyList<int>)? template =
            root["post_processor"] is JsonObject ? PostProcessorTemplate(path, root["post_processor"], tokenIds) : null;
        return WordPieceFactory.Create(path, tokensById, stream, options, addedTokens, template);
    }

    private static Dictionary<string, int> ReadVocabulary(string path, JsonObject model)
    {
        var vocabulary = model["vocab"] as JsonObject ?? throw new InvalidTokenizerFileException(path, "model.vocab is missing or not an object.");
        return vocabulary.ToDictionary(entry => entry.Key, entry => entry.Value!.GetValue<int>(), StringComparer.Ordinal);
    }

    private static List<AddedToken> ReadAddedTokens(JsonArray? added) =>
        added is null ? [] : [.. added.OfType<JsonObject>().Select(token => new AddedToken(
            token["id"]!.GetValue<int>(), token["content"]!.GetValue<string>(), Bool(token["special"]) ?? false))];

    /// <summary>The split regex in front of byte-level BPE: GPT-2's when ByteLevel has use_regex (its default), or a
    /// single Split{Regex, Isolated} before ByteLevel{use_regex: false} (Llama 3, Qwen2).</summary>
    private static string SplitPattern(string path, JsonNode? preTokenizer)
    {
        var steps = preTokenizer is JsonObject step && step["type"]?.GetValue<string>() == "Sequence"
            ? (step["pretokenizers"] as JsonArray ?? []).OfType<JsonObject>().ToList()
            : preTokenizer is JsonObject single ? [single] : [];
        var patterns = new List<string>();
        foreach (var item in steps)
        {
            switch (item["type"]?.GetValue<string>())
            {
                case "ByteLevel":
                    if (Bool(item["add_prefix_space"]) == true)
                    {
                        throw new UnsupportedTokenizerException(path, "BPE", "ByteLevel add_prefix_space = true is not supported.");
                    }
                    if (Bool(item["use_regex"]) ?? true)
                    {
                        patterns.Add(ByteLevelBpeFactory.Gpt2Pattern);
                    }
                    break;
                case "Split":
                    if (item["behavior"]?.GetValue<string>() != "Isolated" || Bool(item["invert"]) == true)
                    {
                        throw new UnsupportedTokenizerException(path, "BPE", "only Split pre-tokenizers with behavior Isolated and invert false are supported.");
                    }
                    patterns.Add(item["pattern"]?["Regex"]?.GetValue<string>()
                        ?? System.Text.RegularExpressions.Regex.Escape(item["pattern"]?["String"]?.GetValue<string>()
                            ?? throw new InvalidTokenizerFileException(path, "a Split pre-tokenizer has no pattern.")));
                    break;
                case var other:
                    throw new UnsupportedTokenizerException(path, "BPE", $"pre-tokenizer {other} is not supported.");
            }
        }
        return patterns.Count switch
        {
            0 => throw new UnsupportedTokenizerException(path, "BPE", "byte-level BPE without a split regex is not supported."),
            1 => patterns[0],
            _ => throw new UnsupportedTokenizerException(path, "BPE", $"{patterns.Count} chained split regexes are not supported (one is)."),
        };
    }

    private static NormalizationForm? Normalization(string path, JsonNode? normalizer)
    {
        var type = normalizer?["type"]?.GetValue<string>();
        return type switch
        {
            null => null,
            "NFC" => NormalizationForm.FormC,
            "NFD" => NormalizationForm.FormD,
            "NFKC" => NormalizationForm.FormKC,
            "NFKD" => NormalizationForm.FormKD,
            "Sequence" when normalizer!["normalizers"] is JsonArray { Count: 0 } => null,
            "Sequence" when normalizer!["normalizers"] is JsonArray { Count: 1 } only => Normalization(path, only[0]),
            _ => throw new UnsupportedTokenizerException(path, "BPE", $"normalizer {type} is not supported with byte-level BPE."),
        };
    }

    /// <summary>Ids the post-processor puts around a single sequence when special tokens are added.</summary>
    private static (IReadOnlyList<int> Prefix, IReadOnlyList<int> Suffix) PostProcessorTemplate(
        string path, JsonNode? processor, IReadOnlyDictionary<string, int> tokenIds)
    {
        var prefix = new List<int>();
        var suffix = new List<int>();
        void Collect(JsonNode? node)
        {
            if (node is not JsonObject step)
            {
                return;
            }
            switch (step["type"]?.GetValue<string>())
            {
                case "ByteLevel":
                    break;
                case "Sequence":
                    foreach (var inner in step["processors"] as JsonArray ?? [])
                    {
                        Collect(inner);
                    }
                    break;
                case "BertProcessing" or "RobertaProcessing":
                    prefix.Add(step["cls"]![1]!.GetValue<int>());
                    suffix.Add(step["sep"]![1]!.GetValue<int>());
                    break;
                case "TemplateProcessing":
                    var specials = step["special_tokens"] as JsonObject;
                    var seenSequence = false;
                    foreach (var piece in step["single"] as JsonArray ?? [])
                    {
                        if (piece?["Sequence"] is not null)
                        {
                            seenSequence = true;
                        }
                        else if (piece?["SpecialToken"]?["id"]?.GetValue<string>() is { } name)
                        {
                            var ids = (specials?[name]?["ids"] as JsonArray)?.Select(id => id!.GetValue<int>()).ToList()
                                ?? (tokenIds.TryGetValue(name, out var id) ? [id] : throw new InvalidTokenizerFileException(path, $"post-processor names unknown token {name}."));
                            (seenSequence ? suffix : prefix).AddRange(ids);
                        }
                    }
                    break;
                case var other:
                    throw new UnsupportedTokenizerException(path, "post_processor", $"post-processor {other} is not supported.");
            }
        }
        Collect(processor);
        return (prefix, suffix);
    }

    private static IEnumerable<string> TypesIn(JsonNode? node)
    {
        if (node is not JsonObject step)
        {
            yield break;
        }
        if (step["type"]?.GetValue<string>() is { } type)
        {
            yield return type;
        }
        foreach (var listKey in new[] { "pretokenizers", "decoders", "processors", "normalizers" })
        {
            foreach (var inner in step[listKey] as JsonArray ?? [])
            {
                foreach (var innerType in TypesIn(inner))
                {
                    yield return innerType;
                }
            }
        }
    }

    private static bool? Bool(JsonNode? node) => node is JsonValue value && value.TryGetValue<bool>(out var result) ? result : null;
}
