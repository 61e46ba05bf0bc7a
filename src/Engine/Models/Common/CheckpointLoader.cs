using InferServer.Safetensors;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Common;

/// <summary>
/// Fills a model's parameters from a safetensors checkpoint as a checked lookup: the full key set and every shape are
/// compared first, and all mismatches are reported together before anything is copied.
/// </summary>
internal static class CheckpointLoader
{
    /// <summary>Validates, then copies every tensor (converting to the parameter's dtype and device).</summary>
    public static void Load(nn.Module model, SafetensorsCheckpoint checkpoint, CheckpointLayout layout, string directory)
    {
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var sources = new Dictionary<string, string>();
        var problems = new List<string>();
        foreach (var (key, info) in checkpoint.Tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            var name = layout.MapKey(key);
            if (name is null)
            {
                continue;
            }

            if (!parameters.TryGetValue(name, out var parameter))
            {
                problems.Add($"unexpected tensor '{key}' in the checkpoint: the architecture has no parameter '{name}'");
                continue;
            }
            var shape = layout.TransposedParameters.Contains(name) ? info.Shape.Reverse().ToArray() : info.Shape;
            if (!shape.SequenceEqual(parameter.shape))
            {
                problems.Add($"tensor '{key}' has shape [{string.Join(", ", info.Shape)}] but parameter '{name}' needs "
                             + $"[{string.Join(", ", parameter.shape)}]"
                             + (layout.TransposedParameters.Contains(name) ? " (transposed)" : ""));
            }

            if (!sources.TryAdd(name, key))
            {
                problems.Add($"tensors '{sources[name]}' and '{key}' both map to parameter '{name}'");
            }
        }
        foreach (var name in parameters.Keys.Where(n => !sources.ContainsKey(n)).Order(StringComparer.Ordinal))
        {
            problems.Add($"parameter '{name}' is missing from the checkpoint");
        }

        if (problems.Count > 0)
        {
            throw ModelLoadException.FromProblems(directory, problems);
        }

        using var noGrad = no_grad();
        foreach (var (name, key) in sources)
        {
            using var scope = NewDisposeScope();
            var source = checkpoint.Read(key);
            if (layout.TransposedParameters.Contains(name))
            {
                source = source.t();
            }

            parameters[name].copy_(source);
        }
    }
}
