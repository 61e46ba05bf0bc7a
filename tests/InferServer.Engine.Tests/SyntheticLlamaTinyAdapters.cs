using System.Text.Json;
using InferServer.Safetensors;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests;

/// <summary>
/// Many small PEFT adapters for llama-tiny (rank 4, q_proj and v_proj of both layers), written once per test run in
/// the exact layout PEFT saves. Each has its own seed, so each changes the model differently.
/// </summary>
public static class SyntheticLlamaTinyAdapters
{
    private static readonly object Gate = new();

    public static string Name(int index) => $"tenant-{index:D4}";

    /// <summary>Writes adapters tenant-0000 … under a per-process root and returns it.</summary>
    public static string WriteMany(int count)
    {
        lock (Gate)
        {
            var root = ProcessScratch.Directory($"synthetic-adapters-{count}");
            if (Directory.GetDirectories(root).Length == count)
                return root;
            using var scope = NewDisposeScope();
            for (var i = 0; i < count; i++)
                Write(Path.Combine(root, Name(i)), seed: i);
            return root;
        }
    }

    private static void Write(string directory, int seed)
    {
        Directory.CreateDirectory(directory);
        var generator = new Generator((ulong)seed + 1);
        var tensors = new Dictionary<string, Tensor>();
        foreach (var layer in new[] { 0, 1 })
            foreach (var (module, outFeatures) in new[] { ("q_proj", 64L), ("v_proj", 32L) })
            {
                var prefix = $"base_model.model.model.layers.{layer}.self_attn.{module}";
                tensors[$"{prefix}.lora_A.weight"] = randn([4, 64], generator: generator) * 0.3;
                tensors[$"{prefix}.lora_B.weight"] = randn([outFeatures, 4], generator: generator) * 0.3;
            }
        SafetensorsWriter.Write(Path.Combine(directory, "adapter_model.safetensors"), tensors);
        File.WriteAllText(Path.Combine(directory, "adapter_config.json"), JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = "llama-tiny",
            ["r"] = 4,
            ["lora_alpha"] = 8,
            ["target_modules"] = new[] { "q_proj", "v_proj" },
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["lora_dropout"] = 0.0,
            ["modules_to_save"] = null,
            ["layers_to_transform"] = null,
            ["rank_pattern"] = new { },
            ["alpha_pattern"] = new { },
        }));
    }
}
