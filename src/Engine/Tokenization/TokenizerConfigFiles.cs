using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferServer.Engine.Tokenization;

/// <summary>
/// What a Hugging Face model directory says about special tokens outside the tokenizer file itself, read the way
/// transformers does: token strings from tokenizer_config.json, falling back to special_tokens_map.json; token ids from
/// generation_config.json, falling back to config.json. Absent files are fine; a present but malformed one is not.
/// </summary>
internal sealed record TokenizerConfigFiles
{
    public string? BosToken { get; init; }
    public string? EosToken { get; init; }
    public string? UnknownToken { get; init; }
    public string? PadToken { get; init; }
    public bool? AddBosToken { get; init; }
    public bool? AddEosToken { get; init; }
    public bool? DoLowerCase { get; init; }
    public string? ChatTemplate { get; init; }
    public IReadOnlyList<AddedToken> AddedTokens { get; init; } = [];

    /// <summary>eos_token_id from generation_config.json, then config.json (an int or a list in either).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? BosTokenId { get; init; }

    public static TokenizerConfigFiles Read(string modelDirectory)
    {
        var tokenizerConfig = ReadJsonObject(Path.Combine(modelDirectory, "tokenizer_config.json"));
        var specialTokensMap = ReadJsonObject(Path.Combine(modelDirectory, "special_tokens_map.json"));
        var generationConfig = ReadJsonObject(Path.Combine(modelDirectory, "generation_config.json"));
        var modelConfig = ReadJsonObject(Path.Combine(modelDirectory, "config.json"));

        string? Token(string key) => TokenContent(tokenizerConfig?[key]) ?? TokenContent(specialTokensMap?[key]);

        return new TokenizerConfigFiles
        {
            BosToken = Token("bos_token"),
            EosToken = Token("eos_token"),
            UnknownToken = Token("unk_token"),
            PadToken = Token("pad_token"),
            AddBosToken = Boolean(tokenizerConfig?["add_bos_token"]),
            AddEosToken = Boolean(tokenizerConfig?["add_eos_token"]),
            DoLowerCase = Boolean(tokenizerConfig?["do_lower_case"]),
            ChatTemplate = ChatTemplateOf(tokenizerConfig?["chat_template"]),
            AddedTokens = AddedTokensOf(tokenizerConfig?["added_tokens_decoder"] as JsonObject),
            EosTokenIds = [.. Ids(generationConfig?["eos_token_id"]).Concat(Ids(modelConfig?["eos_token_id"])).Distinct()],
            BosTokenId = Ids(generationConfig?["bos_token_id"]).Concat(Ids(modelConfig?["bos_token_id"])).Select(id => (int?)id).FirstOrDefault(),
        };
    }

    internal static JsonObject? ReadJsonObject(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new InvalidTokenizerFileException(path, "the top-level JSON value is not an object.");
        }
        catch (JsonException exception)
        {
            throw new InvalidTokenizerFileException(path, $"malformed JSON ({exception.Message})", exception);
        }
    }

    /// <summary>A special token is written either as a plain string or as an AddedToken object with "content".</summary>
    private static string? TokenContent(JsonNode? node) => node switch
    {
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        JsonObject tokenObject => tokenObject["content"]?.GetValue<string>(),
        _ => null,
    };

    private static bool? Boolean(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<bool>(out var result) ? result : null;

    /// <summary>chat_template is a string, or (older multi-template files) a list of {name, template}; take "default".</summary>
    private static string? ChatTemplateOf(JsonNode? node) => node switch
    {
        JsonValue value when value.TryGetValue<string>(out var template) => template,
        JsonArray templates => templates.OfType<JsonObject>()
            .Where(entry => entry["name"]?.GetValue<string>() == "default")
            .Select(entry => entry["template"]?.GetValue<string>())
            .FirstOrDefault(),
        _ => null,
    };

    private static List<AddedToken> AddedTokensOf(JsonObject? decoder)
    {
        if (decoder is null)
        {
            return [];
        }
        var tokens = new List<AddedToken>();
        foreach (var (idText, entry) in decoder)
        {
            if (int.TryParse(idText, System.Globalization.CultureInfo.InvariantCulture, out var id) && TokenContent(entry) is { } content)
            {
                tokens.Add(new AddedToken(id, content, Boolean(entry?["special"]) ?? false));
            }
        }
        return tokens;
    }

    private static IEnumerable<int> Ids(JsonNode? node) => node switch
    {
        JsonValue value when value.TryGetValue<int>(out var id) => [id],
        JsonArray list => list.OfType<JsonValue>().Select(item => item.TryGetValue<int>(out var id) ? (int?)id : null).OfType<int>(),
        _ => [],
    };
}
