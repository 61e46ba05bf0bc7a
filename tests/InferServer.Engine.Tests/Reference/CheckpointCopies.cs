using InferServer.Safetensors;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// A demo model directory copied with its weights in another dtype, optionally split into shards with
/// model.safetensors.index.json as transformers' save_pretrained writes them when there is more than one.
/// </summary>
public static class CheckpointCopies
{
    private static readonly string[] ModelFiles = ["config.json", "generation_config.json", "vocab.json", "merges.txt", "tokenizer_config.json"];

    public static string Write(string source, string target, ScalarType dtype, int shards)
    {
        Directory.CreateDirectory(target);
        foreach (var file in ModelFiles.Where(file => File.Exists(Path.Combine(source, file))))
            File.Copy(Path.Combine(source, file), Path.Combine(target, file));
        using var checkpoint = SafetensorsCheckpoint.Open(source);
        using var scope = NewDisposeScope();
        var keys = checkpoint.Tensors.Keys.Order(StringComparer.Ordinal).ToArray();
        if (shards == 1)
        {
            SafetensorsWriter.Write(Path.Combine(target, "model.safetensors"), keys.Select(k => KeyValuePair.Create(k, checkpoint.Read(k).to(dtype))));
            return target;
        }
        var weightMap = new System.Text.Json.Nodes.JsonObject();
        for (var shard = 0; shard < shards; shard++)
        {
            var name = $"model-{shard + 1:D5}-of-{shards:D5}.safetensors";
            var part = keys.Where((_, i) => i % shards == shard).ToArray();
            SafetensorsWriter.Write(Path.Combine(target, name), part.Select(k => KeyValuePair.Create(k, checkpoint.Read(k).to(dtype))));
            foreach (var key in part)
                weightMap[key] = name;
        }
        var index = new System.Text.Json.Nodes.JsonObject { ["metadata"] = new System.Text.Json.Nodes.JsonObject(), ["weight_map"] = weightMap };
        File.WriteAllText(Path.Combine(target, "model.safetensors.index.json"), index.ToJsonString());
        return target;
    }
}
