using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferServer.Demo.Import;

/// <summary>
/// How InferServer writes Hugging Face model and PEFT adapter files, for imported models and the demo models alike:
/// JSON as transformers and PEFT write it, the transformers release the configs follow, the safetensors metadata.
/// </summary>
public static class HuggingFaceFiles
{
    /// <summary>transformers release whose config layout the written files follow.</summary>
    public const string TransformersVersion = "4.46.3";

    /// <summary>safetensors metadata torch's save_file writes, which transformers checks for.</summary>
    public static readonly IReadOnlyDictionary<string, string> SafetensorsMetadata = new Dictionary<string, string> { ["format"] = "pt" };

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        // Regex target_modules carry '+' and '\'; the default encoder would write '+' as \u002B. These files are never HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Writes <paramref name="content"/> with keys sorted (Python's sort_keys=True), indented by two.</summary>
    public static void WriteJson(string path, JsonObject content) =>
        File.WriteAllText(path, Sorted(content)!.ToJsonString(Options) + "\n");

    private static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray array => new JsonArray(array.Select(Sorted).ToArray()),
        _ => node?.DeepClone(),
    };
}
