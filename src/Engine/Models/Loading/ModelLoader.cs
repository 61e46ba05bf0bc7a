using System.Text.Json;
using InferServer.Safetensors;
using InferServer.Engine.Models.Bert;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Models.Gemma;
using InferServer.Engine.Models.Phi3;
using InferServer.Engine.Models.Gpt2;
using InferServer.Engine.Models.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Loading;

/// <summary>
/// Loads a Hugging Face model directory (config.json + model.safetensors or sharded model-*.safetensors with
/// model.safetensors.index.json) into the architecture its config names. Unsupported architectures and settings are
/// refused up front, by name, with every problem listed.
/// </summary>
public static class ModelLoader
{
    /// <summary>The architectures we serve, as config.json's "architectures" entry names them.</summary>
    public static IReadOnlyList<string> SupportedArchitectures { get; } =
        [
            "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "Gemma2ForCausalLM", "Gemma3ForCausalLM", "Phi3ForCausalLM",
            "LlamaForSequenceClassification", "MistralForSequenceClassification", "Qwen2ForSequenceClassification", "Qwen3ForSequenceClassification",
            "GPT2LMHeadModel", "BertForSequenceClassification", "BertModel",
        ];

    /// <summary>Reads the config, builds the architecture on the requested device and dtype, and fills it from the checkpoint.</summary>
    public static IBaseModel Load(string directory, ModelLoadOptions options)
    {
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
        {
            throw new ModelLoadException($"'{directory}' is not a Hugging Face model directory: config.json is missing");
        }

        string json;
        string architecture;
        try
        {
            json = File.ReadAllText(configPath);
            architecture = ArchitectureOf(JsonDocument.Parse(json).RootElement);
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"'{configPath}' is not valid JSON: {e.Message}");
        }

        using var checkpoint = OpenCheckpoint(directory);
        using var noGrad = torch.no_grad();
        switch (architecture)
        {
            case "LlamaForCausalLM" or "MistralForCausalLM" or "Qwen2ForCausalLM" or "Qwen3ForCausalLM":
                {
                    var config = Parse<LlamaConfig>(json, configPath);
                    ThrowIfInvalid(directory, architecture, [.. ModelTypeProblems(architecture, config), .. config.Validate()]);
                    return Fill(new LlamaForCausalLM(config, options), m => m.Layout, checkpoint, directory);
                }
            case "LlamaForSequenceClassification" or "MistralForSequenceClassification" or "Qwen2ForSequenceClassification"
                or "Qwen3ForSequenceClassification":
                {
                    var config = Parse<LlamaConfig>(json, configPath);
                    ThrowIfInvalid(directory, architecture,
                        [.. ModelTypeProblems(architecture, config), .. config.Validate(), .. config.ClassifierProblems()]);
                    return Fill(new LlamaForSequenceClassification(config, options), _ => CheckpointLayout.Identity, checkpoint, directory);
                }
            case "Phi3ForCausalLM":
                {
                    var config = Parse<LlamaConfig>(json, configPath);
                    ThrowIfInvalid(directory, architecture, [.. ModelTypeProblems(architecture, config), .. config.Validate()]);
                    return Fill(new LlamaForCausalLM(config, options, (c, o) => new Phi3DecoderLayer(c, o)), m => m.Layout, checkpoint, directory);
                }
            case "Gemma2ForCausalLM" or "Gemma3ForCausalLM":
                {
                    GemmaConfig config;
                    try
                    {
                        config = GemmaConfig.Parse(json);
                    }
                    catch (JsonException e)
                    {
                        throw new ModelLoadException($"'{configPath}' has a value of the wrong type: {e.Message}");
                    }

                    var expected = architecture == "Gemma2ForCausalLM" ? "gemma2" : "gemma3_text";
                    IEnumerable<string> typeProblems = config.ModelType == expected ? []
                        : [$"model_type '{config.ModelType}' does not match the architecture (expected '{expected}'; multimodal gemma3 checkpoints are not served)"];
                    ThrowIfInvalid(directory, architecture, [.. typeProblems, .. config.Validate()]);
                    return Fill(new GemmaForCausalLM(config, options), m => m.Layout, checkpoint, directory);
                }
            case "GPT2LMHeadModel":
                {
                    var config = Parse<Gpt2Config>(json, configPath);
                    ThrowIfInvalid(directory, architecture, config.Validate());
                    return Fill(new Gpt2LMHeadModel(config, options), m => m.Layout, checkpoint, directory);
                }
            case "BertForSequenceClassification":
                {
                    var config = Parse<BertConfig>(json, configPath);
                    ThrowIfInvalid(directory, architecture, config.Validate());
                    var embedding = SentenceTransformersConfig.Read(directory);
                    return Fill(new BertForSequenceClassification(config, options) { Embedding = embedding },
                        _ => BertForSequenceClassification.Layout, checkpoint, directory);
                }
            case "BertModel":
                {
                    var config = Parse<BertConfig>(json, configPath);
                    ThrowIfInvalid(directory, architecture, config.Validate());
                    var embedding = SentenceTransformersConfig.Read(directory);
                    return Fill(new BertTextEncoder(config, embedding, options), _ => BertForSequenceClassification.Layout, checkpoint, directory);
                }
            default:
                throw new ModelLoadException(
                    $"architecture '{architecture}' in '{configPath}' is not supported (supported: {string.Join(", ", SupportedArchitectures)})");
        }
    }

    private static string ArchitectureOf(JsonElement config)
    {
        if (config.TryGetProperty("architectures", out var list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0)
        {
            return list[0].GetString() ?? "";
        }
        // Some exports omit "architectures"; model_type then decides the causal-LM class.
        return config.TryGetProperty("model_type", out var type) ? type.GetString() switch
        {
            "llama" => "LlamaForCausalLM",
            "mistral" => "MistralForCausalLM",
            "qwen2" => "Qwen2ForCausalLM",
            "qwen3" => "Qwen3ForCausalLM",
            "gemma2" => "Gemma2ForCausalLM",
            "phi3" => "Phi3ForCausalLM",
            "gemma3_text" => "Gemma3ForCausalLM",
            "gpt2" => "GPT2LMHeadModel",
            "bert" => "BertForSequenceClassification",
            var other => $"(model_type '{other}')",
        } : "(none named)";
    }

    // The architecture class and model_type must agree: model_type picks the switches (Qwen2's biases, Qwen3's q/k norms),
    // so a Qwen3ForCausalLM read as "llama" would miss its norms.
    private static IEnumerable<string> ModelTypeProblems(string architecture, LlamaConfig config)
    {
        var expected = architecture switch
        {
            "Qwen3ForCausalLM" or "Qwen3ForSequenceClassification" => "qwen3",
            "Qwen2ForSequenceClassification" => "qwen2",
            "Phi3ForCausalLM" => "phi3",
            "MistralForSequenceClassification" => "mistral",
            "LlamaForSequenceClassification" => "llama",
            _ => null,
        };
        if (expected is not null && config.ModelType != expected)
        {
            yield return $"model_type '{config.ModelType}' does not match the architecture (expected '{expected}')";
        }
    }

    private static SafetensorsCheckpoint OpenCheckpoint(string directory)
    {
        try
        {
            return SafetensorsCheckpoint.Open(directory);
        }
        catch (Exception e) when (e is SafetensorsFormatException or IOException)
        {
            throw new ModelLoadException($"cannot read the weights in '{directory}': {e.Message}");
        }
    }

    private static T Parse<T>(string json, string path)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json) ?? throw new ModelLoadException($"'{path}' is empty");
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"'{path}' has a value of the wrong type: {e.Message}");
        }
    }

    private static void ThrowIfInvalid(string directory, string architecture, IReadOnlyList<string> problems)
    {
        if (problems.Count > 0)
        {
            throw ModelLoadException.FromProblems(directory, problems.Select(p => $"{architecture}: {p}").ToArray());
        }
    }

    private static TModel Fill<TModel>(TModel model, Func<TModel, CheckpointLayout> layout, SafetensorsCheckpoint checkpoint, string directory)
        where TModel : nn.Module
    {
        try
        {
            model.eval();
            CheckpointLoader.Load(model, checkpoint, layout(model), directory);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
