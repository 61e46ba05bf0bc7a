extern alias server;

using System.Text.Json;
using System.Text.Json.Nodes;
using InferServer.AdapterStore.Safetensors;
using server::InferServer.Server.Tokenization;
using TorchSharp;

namespace InferServer.LoadGen.Models;

/// <summary>
/// Writes a seeded random Llama model (config.json, model.safetensors, GPT-2 tokenizer files) to DIR/base and PEFT LoRA
/// adapters to DIR/adapters/a000…, through the project's own SafetensorsWriter and DemoTokenizerFiles. Random weights
/// do the same arithmetic as trained ones, which is all a throughput benchmark measures; the text is nonsense.
/// </summary>
public static class RandomLlamaWriter
{
    /// <summary>The adapter name prefix (names are prefix + three digits).</summary>
    public const string AdapterPrefix = "a";

    // GPT-2 style initialisation scale; keeps activations finite through a few random layers.
    private const double WeightStd = 0.02;

    public static void Write(string directory, LlamaShape shape, int seed)
    {
        using var noGrad = torch.no_grad();
        var generator = new torch.Generator((ulong)seed);
        var baseDirectory = Path.Combine(directory, "base");
        Directory.CreateDirectory(baseDirectory);
        WriteConfig(baseDirectory, shape);
        DemoTokenizerFiles.Write(baseDirectory);

        var tensors = new List<KeyValuePair<string, torch.Tensor>>();
        try
        {
            void Random(string name, params long[] dims) => tensors.Add(new(name, torch.randn(dims, generator: generator).mul_(WeightStd)));
            void Ones(string name, long size) => tensors.Add(new(name, torch.ones(size)));
            Random("model.embed_tokens.weight", shape.VocabSize, shape.HiddenSize);
            for (var layer = 0; layer < shape.Layers; layer++)
            {
                var prefix = $"model.layers.{layer}.";
                foreach (var module in new[] { "q_proj", "k_proj", "v_proj", "o_proj" })
                {
                    var (inputs, outputs) = shape.ProjectionShape(module);
                    Random($"{prefix}self_attn.{module}.weight", outputs, inputs);
                }
                foreach (var module in new[] { "gate_proj", "up_proj", "down_proj" })
                {
                    var (inputs, outputs) = shape.ProjectionShape(module);
                    Random($"{prefix}mlp.{module}.weight", outputs, inputs);
                }
                Ones($"{prefix}input_layernorm.weight", shape.HiddenSize);
                Ones($"{prefix}post_attention_layernorm.weight", shape.HiddenSize);
            }
            Ones("model.norm.weight", shape.HiddenSize);
            Random("lm_head.weight", shape.VocabSize, shape.HiddenSize);
            SafetensorsWriter.Write(Path.Combine(baseDirectory, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }
        finally
        {
            foreach (var tensor in tensors) tensor.Value.Dispose();
        }

        for (var index = 0; index < shape.AdapterCount; index++)
        {
            WriteAdapter(Path.Combine(directory, "adapters", $"{AdapterPrefix}{index:D3}"), shape, generator);
        }
    }

    private static void WriteConfig(string directory, LlamaShape shape)
    {
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["vocab_size"] = shape.VocabSize,
            ["hidden_size"] = shape.HiddenSize,
            ["intermediate_size"] = shape.IntermediateSize,
            ["num_hidden_layers"] = shape.Layers,
            ["num_attention_heads"] = shape.Heads,
            ["num_key_value_heads"] = shape.KeyValueHeads,
            ["max_position_embeddings"] = shape.MaxPositions,
            ["rms_norm_eps"] = 1e-5,
            ["rope_theta"] = 10000.0,
            ["hidden_act"] = "silu",
            ["attention_bias"] = false,
            ["tie_word_embeddings"] = false,
            ["torch_dtype"] = "float32",
        };
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static void WriteAdapter(string directory, LlamaShape shape, torch.Generator generator)
    {
        Directory.CreateDirectory(directory);
        var config = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = "inferserver-loadgen/random-llama",
            ["r"] = shape.AdapterRank,
            // alpha = 2r, a common choice; the scale (alpha / r = 2) does not change the cost.
            ["lora_alpha"] = 2 * shape.AdapterRank,
            ["lora_dropout"] = 0.0,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["target_modules"] = new JsonArray(shape.AdapterTargets.Select(target => (JsonNode)target).ToArray()),
        };
        File.WriteAllText(Path.Combine(directory, "adapter_config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        var tensors = new List<KeyValuePair<string, torch.Tensor>>();
        try
        {
            for (var layer = 0; layer < shape.Layers; layer++)
            {
                foreach (var module in shape.AdapterTargets)
                {
                    var (inputs, outputs) = shape.ProjectionShape(module);
                    var group = module is "q_proj" or "k_proj" or "v_proj" or "o_proj" ? "self_attn" : "mlp";
                    var key = $"base_model.model.model.layers.{layer}.{group}.{module}";
                    // B is random rather than PEFT's zero init so that adapters really change the output (a zero B
                    // would make merged and unmerged serving trivially equal).
                    tensors.Add(new($"{key}.lora_A.weight", torch.randn([shape.AdapterRank, inputs], generator: generator).mul_(WeightStd)));
                    tensors.Add(new($"{key}.lora_B.weight", torch.randn([outputs, shape.AdapterRank], generator: generator).mul_(WeightStd)));
                }
            }
            SafetensorsWriter.Write(Path.Combine(directory, "adapter_model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }
        finally
        {
            foreach (var tensor in tensors) tensor.Value.Dispose();
        }
    }
}
