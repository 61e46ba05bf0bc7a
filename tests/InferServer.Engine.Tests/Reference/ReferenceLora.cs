using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using InferServer.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// A PEFT LoRA adapter read straight from its files into float64, for the reference forward: per module A [r, in],
/// B [out, r] and the scale s of y += s·(x·Aᵀ)·Bᵀ; with DoRA also the magnitude m of
/// y = bias + m / ‖W0 + s·B·A‖ ⊙ (x·W0ᵀ + s·(x·Aᵀ)·Bᵀ) (PEFT lora/dora.py <c>DoraLinearLayer</c>, norm over the input dimension). Written from PEFT 0.13.2 (tuners/lora/model.py
/// <c>_create_and_replace</c>, tuners_utils.py <c>check_target_module_exists</c>, lora/layer.py <c>update_layer</c>),
/// independently of the server's adapter loader, which is what it checks.
/// </summary>
public sealed class ReferenceLora : IDisposable
{
    private const string KeyPrefix = "base_model.model.";
    private readonly Dictionary<string, (Tensor A, Tensor B, double Scale)> modules;
    private readonly Dictionary<string, Tensor> magnitudes;

    private ReferenceLora(Dictionary<string, (Tensor A, Tensor B, double Scale)> modules, Dictionary<string, Tensor> magnitudes)
    {
        this.modules = modules;
        this.magnitudes = magnitudes;
    }

    /// <summary>The adapted modules and their scales.</summary>
    public IReadOnlyDictionary<string, double> Scales => modules.ToDictionary(m => m.Key, m => m.Value.Scale);

    public static ReferenceLora Load(string directory)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "adapter_config.json")));
        var config = document.RootElement;
        using var file = SafetensorsFile.Open(Path.Combine(directory, "adapter_model.safetensors"));
        using var scope = NewDisposeScope();
        var modules = new Dictionary<string, (Tensor, Tensor, double)>(StringComparer.Ordinal);
        foreach (var aKey in file.Tensors.Keys.Where(k => k.EndsWith(".lora_A.weight", StringComparison.Ordinal)))
        {
            var module = aKey[KeyPrefix.Length..^".lora_A.weight".Length];
            if (!IsTargeted(config, module, isLinear: true))
                throw new InvalidOperationException($"adapter '{directory}' has weights for '{module}', which its config does not target");
            var a = file.Read(aKey).to(ScalarType.Float64).DetachFromDisposeScope();
            var b = file.Read($"{KeyPrefix}{module}.lora_B.weight").to(ScalarType.Float64).DetachFromDisposeScope();
            var (rank, alpha) = RankAndAlpha(config, module);
            if (a.shape[0] != rank || b.shape[1] != rank)
                throw new InvalidOperationException($"'{module}': config rank {rank}, weights [{string.Join(", ", a.shape)}] / [{string.Join(", ", b.shape)}]");
            var useRslora = config.TryGetProperty("use_rslora", out var rs) && rs.GetBoolean();
            // Hu et al. 2021: s = alpha / r. rsLoRA (Kalajdzievski 2023): s = alpha / sqrt(r).
            modules.Add(module, (a, b, useRslora ? alpha / Math.Sqrt(rank) : alpha / rank));
        }
        // PEFT lora.Embedding: lora_embedding_A [r, entries], lora_embedding_B [dimension, r], same scale rule.
        foreach (var aKey in file.Tensors.Keys.Where(k => k.EndsWith(".lora_embedding_A", StringComparison.Ordinal)))
        {
            var module = aKey[KeyPrefix.Length..^".lora_embedding_A".Length];
            if (!IsTargeted(config, module, isLinear: false))
                throw new InvalidOperationException($"adapter '{directory}' has weights for '{module}', which its config does not target");
            var (rank, alpha) = RankAndAlpha(config, module);
            var useRslora = config.TryGetProperty("use_rslora", out var rs) && rs.GetBoolean();
            modules.Add(module, (file.Read(aKey).to(ScalarType.Float64).DetachFromDisposeScope(),
                file.Read($"{KeyPrefix}{module}.lora_embedding_B").to(ScalarType.Float64).DetachFromDisposeScope(),
                useRslora ? alpha / Math.Sqrt(rank) : alpha / rank));
        }
        var magnitudes = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        if (config.TryGetProperty("use_dora", out var dora) && dora.GetBoolean())
        {
            foreach (var module in modules.Keys)
                magnitudes.Add(module, file.Read($"{KeyPrefix}{module}.lora_magnitude_vector").to(ScalarType.Float64).DetachFromDisposeScope());
        }
        return new ReferenceLora(modules, magnitudes);
    }

    /// <summary>
    /// An embedding lookup, <c>table[ids]</c>, plus PEFT's <c>F.embedding(ids, A.T) @ B.T * scaling</c> when this adapter adapts
    /// <paramref name="module"/>.
    /// </summary>
    public Tensor Embed(string module, Tensor ids, Tensor table)
    {
        var y = table.index_select(0, ids);
        return modules.TryGetValue(module, out var lora) ? y + lora.Scale * lora.A.t().index_select(0, ids).matmul(lora.B.t()) : y;
    }

    /// <summary>The whole adapted linear layer: x·W0ᵀ + bias, plus LoRA, or DoRA's rescaled sum when the module has a magnitude.</summary>
    public Tensor Linear(string module, Tensor x, Tensor weight, Tensor? bias)
    {
        var y = x.matmul(weight.t());
        if (modules.TryGetValue(module, out var lora))
        {
            y = y + lora.Scale * x.matmul(lora.A.t()).matmul(lora.B.t());
            if (magnitudes.TryGetValue(module, out var magnitude))
            {
                var norm = (weight + lora.Scale * lora.B.matmul(lora.A)).pow(2).sum(1).sqrt();
                y = y * (magnitude / norm);
            }
        }
        return bias is null ? y : y + bias;
    }

    public void Dispose()
    {
        foreach (var (a, b, _) in modules.Values)
        {
            a.Dispose();
            b.Dispose();
        }
        foreach (var magnitude in magnitudes.Values)
            magnitude.Dispose();
    }

    /// <summary>
    /// PEFT 0.13: one key is chosen from rank_pattern and alpha_pattern together, the first with
    /// <c>re.match(rf".*\.{key}$", module)</c>; r and alpha are then both looked up by that key, defaulting to r and lora_alpha.
    /// </summary>
    private static (int Rank, double Alpha) RankAndAlpha(JsonElement config, string module)
    {
        var rankPattern = Pattern(config, "rank_pattern");
        var alphaPattern = Pattern(config, "alpha_pattern");
        var key = rankPattern.Keys.Concat(alphaPattern.Keys).FirstOrDefault(k => Regex.IsMatch(module, $@"^.*\.{k}$")) ?? module;
        var rank = rankPattern.TryGetValue(key, out var r) ? (int)r : config.GetProperty("r").GetInt32();
        var alpha = alphaPattern.TryGetValue(key, out var a) ? a : config.GetProperty("lora_alpha").GetDouble();
        return (rank, alpha);
    }

    /// <summary>
    /// PEFT 0.13 check_target_module_exists: a string target is re.fullmatch'ed against the module path; a list entry
    /// matches the path or a ".{entry}" suffix. With layers_to_transform, the layer index (after ".{layers_pattern}.", or
    /// after any component when no pattern is given) must be listed. "all-linear" (PEFT tuners_utils.py
    /// <c>_maybe_include_all_linear_layers</c>) stands for every nn.Linear but the output embedding (lm_head here), so never
    /// for an nn.Embedding.
    /// </summary>
    private static bool IsTargeted(JsonElement config, string module, bool isLinear)
    {
        var targets = config.GetProperty("target_modules");
        if (targets.ValueKind == JsonValueKind.String && targets.GetString() == "all-linear")
            return isLinear && module != "lm_head";
        var matched = targets.ValueKind == JsonValueKind.String
            ? Regex.IsMatch(module, $"^(?:{targets.GetString()})$")
            : targets.EnumerateArray().Select(t => t.GetString()!).Any(t => module == t || module.EndsWith("." + t, StringComparison.Ordinal));
        if (!matched || !config.TryGetProperty("layers_to_transform", out var layers) || layers.ValueKind == JsonValueKind.Null)
            return matched;
        var pattern = config.TryGetProperty("layers_pattern", out var p) && p.ValueKind == JsonValueKind.String
            ? $@"^.*\.{p.GetString()}\.(\d+)\."
            : @"^.*\.[^.]*\.(\d+)\.";
        var match = Regex.Match(module, pattern);
        var wanted = layers.ValueKind == JsonValueKind.Number ? [layers.GetInt32()] : layers.EnumerateArray().Select(l => l.GetInt32()).ToArray();
        return match.Success && wanted.Contains(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private static Dictionary<string, double> Pattern(JsonElement config, string name) =>
        config.TryGetProperty(name, out var pattern) && pattern.ValueKind == JsonValueKind.Object
            ? pattern.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble())
            : [];
}
