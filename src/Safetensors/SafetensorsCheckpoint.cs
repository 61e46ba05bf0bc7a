using System.Text.Json;
using TorchSharp;

namespace InferServer.Safetensors;

/// <summary>
/// A model directory as Hugging Face writes it: <c>{baseName}.safetensors</c>, or shards listed by
/// <c>{baseName}.safetensors.index.json</c> (<c>{"metadata": {...}, "weight_map": {tensor: shard file}}</c>). The single
/// file wins when both exist, as in transformers' loader. Every shard is opened and validated up front, and the index
/// must agree with the shards exactly.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    private readonly IReadOnlyList<SafetensorsFile> files;
    private readonly IReadOnlyDictionary<string, SafetensorsFile> owners;

    private SafetensorsCheckpoint(IReadOnlyList<SafetensorsFile> files, Dictionary<string, SafetensorsFile> owners)
    {
        this.files = files;
        this.owners = owners;
        Tensors = owners.ToDictionary(pair => pair.Key, pair => pair.Value.Tensors[pair.Key], StringComparer.Ordinal);
    }

    /// <summary>Every tensor of the checkpoint, the union over its shards.</summary>
    public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors { get; }

    /// <summary>
    /// Opens the checkpoint in <paramref name="directory"/>. Throws <see cref="FileNotFoundException"/> when neither the
    /// single file nor the index exists, and <see cref="SafetensorsFormatException"/> for a malformed index or shard.
    /// </summary>
    public static SafetensorsCheckpoint Open(string directory, string baseName = "model")
    {
        var single = Path.Combine(directory, baseName + ".safetensors");
        if (File.Exists(single))
        {
            var file = SafetensorsFile.Open(single);
            return new SafetensorsCheckpoint([file], file.Tensors.Keys.ToDictionary(name => name, _ => file, StringComparer.Ordinal));
        }

        var index = single + ".index.json";
        if (!File.Exists(index))
        {
            throw new FileNotFoundException(
                $"Directory '{directory}' holds neither '{baseName}.safetensors' nor '{baseName}.safetensors.index.json'.", single);
        }

        return OpenSharded(directory, index);
    }

    /// <summary>Reads one tensor into a new tensor the caller owns; <see cref="KeyNotFoundException"/> when unknown.</summary>
    public torch.Tensor Read(string name, torch.Device? device = null)
    {
        if (!owners.TryGetValue(name, out var file))
        {
            throw new KeyNotFoundException($"Checkpoint has no tensor named '{name}'.");
        }

        return file.Read(name, device);
    }

    public void Dispose()
    {
        foreach (var file in files)
        {
            file.Dispose();
        }
    }

    private static SafetensorsCheckpoint OpenSharded(string directory, string index)
    {
        var weightMap = ReadWeightMap(index);
        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            var owners = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var (tensor, shardName) in weightMap)
            {
                if (!shards.TryGetValue(shardName, out var shard))
                {
                    var shardPath = Path.Combine(directory, shardName);
                    if (!File.Exists(shardPath))
                    {
                        throw new SafetensorsFormatException(index, tensor, $"shard file '{shardName}' does not exist");
                    }

                    shard = SafetensorsFile.Open(shardPath);
                    shards.Add(shardName, shard);
                }

                if (!shard.Tensors.ContainsKey(tensor))
                {
                    throw new SafetensorsFormatException(index, tensor, $"weight_map places the tensor in shard '{shardName}', which does not contain it");
                }

                owners.Add(tensor, shard);
            }

            // A tensor the index does not list would be invisible to weight_map readers and, if listed elsewhere, ambiguous.
            foreach (var (shardName, shard) in shards)
            {
                foreach (var tensor in shard.Tensors.Keys)
                {
                    if (!weightMap.TryGetValue(tensor, out var listed) || listed != shardName)
                    {
                        throw new SafetensorsFormatException(
                            index, tensor, $"shard '{shardName}' contains the tensor but weight_map does not place it there");
                    }
                }
            }

            return new SafetensorsCheckpoint([.. shards.Values], owners);
        }
        catch
        {
            foreach (var shard in shards.Values)
            {
                shard.Dispose();
            }

            throw;
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string index)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(index));
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(index, null, $"index is not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(index, null, $"index is a JSON {root.ValueKind}, not an object");
            }

            if (!root.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(index, null, "index has no 'weight_map' object");
            }

            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    throw new SafetensorsFormatException(index, entry.Name, $"weight_map value is a JSON {entry.Value.ValueKind}, not a shard file name");
                }

                var shardName = entry.Value.GetString()!;

                // Shards live beside the index; a path component could point anywhere on the machine.
                if (shardName.Length == 0 || shardName != Path.GetFileName(shardName) || shardName is "." or "..")
                {
                    throw new SafetensorsFormatException(index, entry.Name, $"weight_map names shard '{shardName}', which is not a plain file name");
                }

                if (!weightMap.TryAdd(entry.Name, shardName))
                {
                    throw new SafetensorsFormatException(index, entry.Name, "tensor is listed twice in weight_map");
                }
            }

            return weightMap;
        }
    }
}
