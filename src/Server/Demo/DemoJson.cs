using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferServer.Server.Demo;

/// <summary>Writes JSON files as transformers and PEFT do: keys sorted (Python's sort_keys=True), indented by two.</summary>
internal static class DemoJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        // Regex target_modules carry '+' and '\'; the default encoder would write '+' as \u002B. These files are never HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void Write(string path, JsonObject content) =>
        File.WriteAllText(path, Sorted(content)!.ToJsonString(Options) + "\n");

    private static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray array => new JsonArray(array.Select(Sorted).ToArray()),
        _ => node?.DeepClone(),
    };
}
