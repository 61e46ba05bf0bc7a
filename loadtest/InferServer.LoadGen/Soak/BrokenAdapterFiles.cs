using System.Text.Json;
using InferServer.Safetensors;
using static TorchSharp.torch;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// Adapter directories that cannot be served, in PEFT's layout for a Llama of hidden size 64 (the demo Llama,
/// llama-tiny): the soak's broken adapters and the server's reliability tests write them the same way.
/// </summary>
public static class BrokenAdapterFiles
{
    /// <summary>Valid PEFT files for a model with another hidden size (128).</summary>
    public static void WriteWrongBase(string directory)
    {
        using var scope = NewDisposeScope();
        WriteLora(directory, WrongShapes());
    }

    /// <summary>adapter_config.json that is not JSON.</summary>
    public static void WriteCorruptConfig(string directory)
    {
        WriteWrongBase(directory);
        File.WriteAllText(Path.Combine(directory, "adapter_config.json"), "{ \"r\": 4, \"target_modules\": [");
    }

    /// <summary>adapter_model.safetensors cut off in the middle.</summary>
    public static void WriteTruncatedWeights(string directory)
    {
        WriteWrongBase(directory);
        var weights = Path.Combine(directory, "adapter_model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
    }

    /// <summary>A rank-4 q_proj LoRA (alpha 8) holding <paramref name="tensors"/>, whatever their names and shapes.</summary>
    public static void WriteLora(string directory, Dictionary<string, Tensor> tensors)
    {
        Directory.CreateDirectory(directory);
        SafetensorsWriter.Write(Path.Combine(directory, "adapter_model.safetensors"), tensors);
        File.WriteAllText(Path.Combine(directory, "adapter_config.json"), JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["r"] = 4,
            ["lora_alpha"] = 8,
            ["target_modules"] = new[] { "q_proj" },
            ["bias"] = "none",
        }));
    }

    private static Dictionary<string, Tensor> WrongShapes() => new()
    {
        ["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] = zeros(4, 128),
        ["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"] = zeros(128, 4),
    };
}
