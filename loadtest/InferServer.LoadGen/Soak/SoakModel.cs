extern alias server;

using System.Text.Json;
using InferServer.Safetensors;
using server::InferServer.Server.Demo;
using static TorchSharp.torch;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// What the soak serves: the demo Llama (hidden 64, GPT-2 tokenizer, so text, chat and OpenAI prompts all work) with its
/// own adapters and <c>tenants</c> rank-16 q/v tenant adapters under DIR/base/adapters, and adapters that cannot be
/// served under DIR/broken: each asked for by name must end FAILED_PRECONDITION, never INTERNAL, and never harm the rest.
/// </summary>
public static class SoakModel
{
    /// <summary>adapter_config.json is not JSON.</summary>
    public const string CorruptConfig = "broken-corrupt-config";

    /// <summary>adapter_model.safetensors cut off in the middle.</summary>
    public const string TruncatedWeights = "broken-truncated-weights";

    /// <summary>Valid PEFT files for a model with another hidden size (128 instead of the demo's 64).</summary>
    public const string WrongBase = "broken-wrong-base";

    public static IReadOnlyList<string> Broken => [CorruptConfig, TruncatedWeights, WrongBase];

    /// <summary>The model directory (served with --model) under <paramref name="root"/>.</summary>
    public static string ModelDirectory(string root) => Path.Combine(root, "base");

    /// <summary>The adapter roots the server is given: the model's own adapters and the broken ones.</summary>
    public static IReadOnlyList<string> AdapterRoots(string root) => [Path.Combine(ModelDirectory(root), "adapters"), Path.Combine(root, "broken")];

    /// <summary>Writes the model, <paramref name="tenants"/> tenant adapters and the broken adapters under <paramref name="root"/>.</summary>
    public static void Write(string root, int tenants, int seed)
    {
        var model = ModelDirectory(root);
        DemoModelGenerator.Write(model, DemoModelKind.Llama, seed);
        DemoModelGenerator.WriteTenantAdapters(Path.Combine(model, "adapters"), DemoModelKind.Llama, tenants, 16, ["q_proj", "v_proj"], seed);
        WriteBroken(Path.Combine(root, "broken"));
    }

    private static void WriteBroken(string directory)
    {
        using var scope = NewDisposeScope();
        var wrongShapes = new Dictionary<string, Tensor>
        {
            ["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] = zeros(4, 128),
            ["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"] = zeros(128, 4),
        };
        foreach (var name in Broken)
            WriteAdapter(Path.Combine(directory, name), wrongShapes);
        File.WriteAllText(Path.Combine(directory, CorruptConfig, "adapter_config.json"), "{ \"r\": 4, \"target_modules\": [");
        var weights = Path.Combine(directory, TruncatedWeights, "adapter_model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
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
