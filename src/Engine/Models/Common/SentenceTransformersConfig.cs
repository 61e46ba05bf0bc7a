using System.Text.Json.Nodes;

namespace InferServer.Engine.Models.Common;

/// <summary>
/// Reads the sentence-transformers files beside a Hugging Face checkpoint: modules.json (the pipeline: Transformer,
/// Pooling, optional Normalize) and the Pooling module's config.json. Mean pooling is implemented; another pooling mode,
/// or a module after pooling other than Normalize (Dense, say), is refused by name, since serving it without that step
/// would return different vectors.
/// </summary>
internal static class SentenceTransformersConfig
{
    private const string ModulePrefix = "sentence_transformers.models.";

    /// <summary>The directory's embedding settings: <see cref="EmbeddingSettings.Default"/> when it has no modules.json.</summary>
    public static EmbeddingSettings Read(string directory)
    {
        var modulesPath = Path.Combine(directory, "modules.json");
        if (!File.Exists(modulesPath))
        {
            return EmbeddingSettings.Default;
        }

        var problems = new List<string>();
        var normalize = false;
        foreach (var module in Parse(modulesPath) as JsonArray ?? [])
        {
            var type = module?["type"]?.GetValue<string>() ?? "";
            var path = module?["path"]?.GetValue<string>() ?? "";
            switch (type.StartsWith(ModulePrefix, StringComparison.Ordinal) ? type[ModulePrefix.Length..] : type)
            {
                case "Transformer":
                    break;
                case "Pooling":
                    problems.AddRange(PoolingProblems(Path.Combine(directory, path, "config.json")));
                    break;
                case "Normalize":
                    normalize = true;
                    break;
                default:
                    problems.Add($"module '{type}' is not implemented (Transformer, Pooling with mean tokens, Normalize are)");
                    break;
            }
        }
        if (problems.Count > 0)
        {
            throw ModelLoadException.FromProblems(directory, problems.Select(p => $"sentence-transformers: {p}").ToArray());
        }

        return new EmbeddingSettings(normalize);
    }

    private static IEnumerable<string> PoolingProblems(string path)
    {
        if (!File.Exists(path))
        {
            return [$"pooling config '{path}' is missing"];
        }

        var config = Parse(path) as JsonObject ?? [];
        var on = config.Where(p => p.Key.StartsWith("pooling_mode_", StringComparison.Ordinal) && p.Value?.GetValueKind() == System.Text.Json.JsonValueKind.True)
            .Select(p => p.Key).ToArray();
        return on is ["pooling_mode_mean_tokens"] ? []
            : [$"pooling modes [{string.Join(", ", on)}] are not implemented (pooling_mode_mean_tokens alone is)"];
    }

    private static JsonNode? Parse(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path));
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ModelLoadException($"'{path}' is not valid JSON: {e.Message}");
        }
    }
}
