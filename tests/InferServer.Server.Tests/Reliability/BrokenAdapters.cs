using System.Text.Json;
using InferServer.Safetensors;
using static TorchSharp.torch;

namespace InferServer.Server.Tests.Reliability;

/// <summary>Adapters for llama-tiny that cannot be served, written once per test run under a root of their own.</summary>
public static class BrokenAdapters
{
    /// <summary>Hundreds of tensors for modules the model does not have, each a separate problem.</summary>
    public const string ManyProblems = "many-problems";

    /// <summary>Valid PEFT files for a model with other shapes (hidden 128 instead of 64).</summary>
    public const string WrongBase = "wrong-base";

    /// <summary>An adapter_config.json that is not JSON.</summary>
    public const string CorruptConfig = "corrupt-config";

    /// <summary>adapter_model.safetensors cut off in the middle.</summary>
    public const string TruncatedWeights = "truncated-weights";

    private static readonly Lazy<string> Root = new(Write);

    public static IReadOnlyList<string> All => [ManyProblems, WrongBase, CorruptConfig, TruncatedWeights];

    public static string WriteRoot() => Root.Value;

    private static string Write()
    {
        var root = ProcessScratch.Directory("broken-adapters");
        using var scope = NewDisposeScope();
        var many = new Dictionary<string, Tensor>();
        for (var i = 0; i < 400; i++)
        {
            many[$"base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight"] = zeros(4, 64);
            many[$"base_model.model.model.layers.{i}.self_attn.q_proj.lora_B.weight"] = zeros(64, 4);
        }
        WriteAdapter(Path.Combine(root, ManyProblems), many);
        var wrongBase = new Dictionary<string, Tensor>
        {
            ["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] = zeros(4, 128),
            ["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"] = zeros(128, 4),
        };
        WriteAdapter(Path.Combine(root, WrongBase), wrongBase);
        WriteAdapter(Path.Combine(root, CorruptConfig), wrongBase);
        File.WriteAllText(Path.Combine(root, CorruptConfig, "adapter_config.json"), "{ \"r\": 4, \"target_modules\": [");
        var truncated = Path.Combine(root, TruncatedWeights);
        WriteAdapter(truncated, wrongBase);
        var weights = Path.Combine(truncated, "adapter_model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
        return root;
    }

    private static void WriteAdapter(string directory, Dictionary<string, Tensor> tensors)
    {
        Directory.CreateDirectory(directory);
        SafetensorsWriter.Write(Path.Combine(directory, "adapter_model.safetensors"), tensors);
        File.WriteAllText(Path.Combine(directory, "adapter_config.json"), JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA", ["task_type"] = "CAUSAL_LM", ["r"] = 4, ["lora_alpha"] = 8,
            ["target_modules"] = new[] { "q_proj" }, ["bias"] = "none",
        }));
    }
}
