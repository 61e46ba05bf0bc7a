using InferServer.Demo.Import;
using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using InferServer.Safetensors;
using static TorchSharp.torch;

namespace InferServer.Demo;

/// <summary>
/// Writes a demo adapter as PEFT 0.13's save_pretrained does: adapter_config.json with every key LoraConfig.to_dict
/// produces, and adapter_model.safetensors with keys base_model.model.{module}.lora_A.weight [r, in] and .lora_B.weight
/// [out, r] (the same for Conv1D targets: fan_in_fan_out only changes how PEFT merges), plus a SEQ_CLS adapter's head.
/// </summary>
internal static class DemoAdapterWriter
{
    private const string KeyPrefix = "base_model.model.";

    /// <summary>
    /// B is drawn non-zero (PEFT initialises it to zero, training moves it), so every adapter visibly changes the outputs.
    /// A gets the spread of PEFT's Kaiming initialisation, about 1/sqrt(in).
    /// </summary>
    private const double LoraBStd = 0.02;

    public static void Write(string directory, DemoModelPlan model, DemoAdapter adapter, int seed)
    {
        var configJson = Config(model, adapter);
        // Which modules get weights, and at which rank, is decided by the config exactly as the server will read it.
        var config = PeftLoraConfig.Parse(configJson.ToJsonString());
        if (config.UnsupportedSettings() is { Count: > 0 } problems)
        {
            throw new InvalidOperationException($"demo adapter '{adapter.Name}' is not servable: {string.Join("; ", problems)}");
        }

        var targeted = model.AdaptableModules.Where(m => config.Targets(m.Key)).ToList();
        if (targeted.Count == 0)
        {
            throw new InvalidOperationException($"demo adapter '{adapter.Name}' targets no module of the {model.Kind} demo");
        }

        Directory.CreateDirectory(directory);
        using var scope = NewDisposeScope();
        var tensors = new List<KeyValuePair<string, Tensor>>();
        var stream = $"{DemoModelGenerator.DirectoryName(model.Kind)}/adapters/{adapter.Name}/";
        foreach (var (module, shape) in targeted)
        {
            var rank = config.RankFor(module);
            var a = $"{KeyPrefix}{module}.lora_A.weight";
            var b = $"{KeyPrefix}{module}.lora_B.weight";
            tensors.Add(KeyValuePair.Create(a, DemoModelGenerator.Draw(seed, stream + a, [rank, shape.InFeatures], 0, 1 / Math.Sqrt(shape.InFeatures))));
            tensors.Add(KeyValuePair.Create(b, DemoModelGenerator.Draw(seed, stream + b, [shape.OutFeatures, rank], 0, LoraBStd)));
        }
        if (adapter.ClassifierLabels > 0)
        {
            var weight = KeyPrefix + "classifier.weight";
            var bias = KeyPrefix + "classifier.bias";
            tensors.Add(KeyValuePair.Create(weight,
                DemoModelGenerator.Draw(seed, stream + weight, [adapter.ClassifierLabels, model.HiddenSize], 0, DemoBert.ClassifierStd)));
            tensors.Add(KeyValuePair.Create(bias, DemoModelGenerator.Draw(seed, stream + bias, [adapter.ClassifierLabels], 0, 0.02)));
        }
        SafetensorsWriter.Write(Path.Combine(directory, LoraAdapterLoader.WeightsFileName), tensors, HuggingFaceFiles.SafetensorsMetadata);
        HuggingFaceFiles.WriteJson(Path.Combine(directory, LoraAdapterLoader.ConfigFileName), configJson);
    }

    private static JsonObject Config(DemoModelPlan model, DemoAdapter adapter)
    {
        JsonNode targets = adapter.TargetRegex is { } regex
            ? JsonValue.Create(regex)
            : new JsonArray(adapter.TargetNames!.Select(name => (JsonNode?)JsonValue.Create(name)).ToArray());
        var classifier = adapter.ClassifierLabels > 0;
        var config = new JsonObject
        {
            ["alpha_pattern"] = Pattern(adapter.AlphaPattern),
            ["auto_mapping"] = null,
            ["base_model_name_or_path"] = $"inferserver-demo/{DemoModelGenerator.DirectoryName(model.Kind)}",
            ["bias"] = "none",
            ["fan_in_fan_out"] = adapter.FanInFanOut,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["layer_replication"] = null,
            ["layers_pattern"] = adapter.LayersPattern,
            ["layers_to_transform"] = adapter.LayersToTransform is { } layers
                ? new JsonArray(layers.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray())
                : null,
            ["loftq_config"] = new JsonObject(),
            ["lora_alpha"] = adapter.Alpha,
            ["lora_dropout"] = 0.05,
            ["megatron_config"] = null,
            ["megatron_core"] = "megatron.core",
            // PEFT adds both names for every SEQ_CLS model; only the one the architecture has is saved.
            ["modules_to_save"] = classifier ? new JsonArray("classifier", "score") : null,
            ["peft_type"] = "LORA",
            ["r"] = adapter.Rank,
            ["rank_pattern"] = Pattern(adapter.RankPattern),
            ["revision"] = null,
            ["target_modules"] = targets,
            ["task_type"] = adapter.TaskType ?? (classifier ? "SEQ_CLS" : "CAUSAL_LM"),
            ["use_dora"] = false,
            ["use_rslora"] = adapter.UseRslora,
        };
        if (adapter.LabelNames is { } labels)
        {
            config["id2label"] = new JsonObject(labels.Select((label, i) =>
                KeyValuePair.Create(i.ToString(System.Globalization.CultureInfo.InvariantCulture), (JsonNode?)JsonValue.Create(label))));
        }

        return config;
    }

    private static JsonObject Pattern(IReadOnlyDictionary<string, int>? pattern) =>
        new((pattern ?? new Dictionary<string, int>()).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value))));
}
