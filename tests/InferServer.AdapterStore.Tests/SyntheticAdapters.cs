using System.Globalization;
using InferServer.AdapterStore.Peft;
using InferServer.Safetensors;
using TorchSharp;

namespace InferServer.AdapterStore.Tests;

/// <summary>
/// A tiny two-layer base model and PEFT adapters for it written to disk the way <c>save_pretrained</c> does
/// (adapter_config.json + adapter_model.safetensors, keys <c>base_model.model.&lt;module&gt;.lora_A.weight</c>).
/// </summary>
internal static class SyntheticAdapters
{
    public const string Q0 = "model.layers.0.self_attn.q_proj";
    public const string V0 = "model.layers.0.self_attn.v_proj";
    public const string Q1 = "model.layers.1.self_attn.q_proj";
    public const string V1 = "model.layers.1.self_attn.v_proj";

    /// <summary>Hidden 16; q projects 16 → 16, v 16 → 8.</summary>
    public static BaseModelSpec Spec { get; } = new("llama", new Dictionary<string, LinearModuleShape>
    {
        [Q0] = new(16, 16),
        [V0] = new(16, 8),
        [Q1] = new(16, 16),
        [V1] = new(16, 8),
    }, NumLayers: 2, HiddenSize: 16);

    public static IReadOnlyList<string> AllModules { get; } = [Q0, V0, Q1, V1];

    /// <summary>
    /// Writes an adapter of <paramref name="rank"/> on <paramref name="modules"/> (default: all four) with weights drawn from
    /// <paramref name="seed"/>; shapes come from <paramref name="spec"/> (default <see cref="Spec"/>). Returns the directory.
    /// </summary>
    public static string Write(
        string directory, int rank, int seed, IReadOnlyList<string>? modules = null, double alpha = 8, BaseModelSpec? spec = null)
    {
        modules ??= AllModules;
        spec ??= Spec;
        Directory.CreateDirectory(directory);
        string targets = string.Join(", ", modules.Select(module => $"\"{module}\""));
        File.WriteAllText(Path.Combine(directory, LoraAdapterLoader.ConfigFileName), $$"""
            {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": {{rank}}, "lora_alpha": {{alpha.ToString(CultureInfo.InvariantCulture)}},
             "target_modules": [{{targets}}], "lora_dropout": 0.0, "bias": "none"}
            """);
        using var scope = torch.NewDisposeScope();
        using var generator = new torch.Generator((ulong)seed);
        var tensors = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);
        foreach (string module in modules)
        {
            var shape = spec.Modules[module];
            tensors[$"base_model.model.{module}.lora_A.weight"] = torch.randn([rank, shape.InFeatures], generator: generator);
            tensors[$"base_model.model.{module}.lora_B.weight"] = torch.randn([shape.OutFeatures, rank], generator: generator);
        }

        SafetensorsWriter.Write(Path.Combine(directory, LoraAdapterLoader.WeightsFileName), tensors);
        return directory;
    }

    /// <summary>Rewrites one tensor of an adapter directory.</summary>
    public static void Replace(string directory, string key, torch.Tensor tensor)
    {
        string path = Path.Combine(directory, LoraAdapterLoader.WeightsFileName);
        using var scope = torch.NewDisposeScope();
        Dictionary<string, torch.Tensor> tensors;
        using (var file = SafetensorsFile.Open(path))
        {
            tensors = file.Tensors.Keys.ToDictionary(name => name, name => file.Read(name), StringComparer.Ordinal);
        }

        tensors[key] = tensor;
        SafetensorsWriter.Write(path, tensors);
    }

    /// <summary>Writes and loads an adapter without a store, for the device tier and the merge cache.</summary>
    public static LoraAdapter Load(
        TemporaryDirectory root, string name, int rank, int seed, IReadOnlyList<string>? modules = null, double alpha = 8) =>
        LoraAdapterLoader.Load(Write(root.File(name), rank, seed, modules, alpha), name, Spec, torch.ScalarType.Float32);
}
