using InferServer.Demo.Import;
using System.Text.Json.Nodes;
using InferServer.AdapterStore.Peft;
using InferServer.Kernels;
using InferServer.Safetensors;
using static TorchSharp.torch;

namespace InferServer.Demo;

/// <summary>
/// Writes a demo adapter as PEFT 0.13's save_pretrained does: adapter_config.json with every key LoraConfig.to_dict
/// produces, and adapter_model.safetensors with keys base_model.model.{module}.lora_A.weight [r, in] and .lora_B.weight
/// [out, r] (the same for Conv1D targets: fan_in_fan_out only changes how PEFT merges), an embedding's
/// lora_embedding_A [r, entries] and lora_embedding_B [dimension, r], a DoRA module's lora_magnitude_vector [out], plus a
/// SEQ_CLS adapter's head.
/// </summary>
internal static class DemoAdapterWriter
{
    private const string KeyPrefix = "base_model.model.";

    /// <summary>
    /// B is drawn non-zero (PEFT initialises it to zero, training moves it), so every adapter visibly changes the outputs.
    /// A gets the spread of PEFT's Kaiming initialisation, about 1/sqrt(in).
    /// </summary>
    private const double LoraBStd = 0.02;

    /// <summary>
    /// An embedding's A and B (PEFT draws B normal and A zero; here both non-zero): with these spreads s·A[:, id]·Bᵀ is of
    /// the order of the table's own 0.02-std rows.
    /// </summary>
    private const double EmbeddingAStd = 0.1;

    private const double EmbeddingBStd = 0.05;

    /// <summary>How far a DoRA magnitude is moved from its initial weight norm, relative (std of a normal factor around 1).</summary>
    private const double DoraMagnitudeSpread = 0.1;

    public static void Write(string directory, DemoModelPlan model, DemoAdapter adapter, int seed)
    {
        var configJson = Config(model, adapter);
        // Which modules get weights, and at which rank, is decided by the config exactly as the server will read it.
        var config = PeftLoraConfig.Parse(configJson.ToJsonString());
        if (config.UnsupportedSettings() is { Count: > 0 } problems)
        {
            throw new InvalidOperationException($"demo adapter '{adapter.Name}' is not servable: {string.Join("; ", problems)}");
        }

        var targeted = model.AdaptableModules
            .Where(m => config.Targets(m.Key, isLinear: !model.EmbeddingModules.Contains(m.Key), outputHead: model.OutputHead)).ToList();
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
            if (model.EmbeddingModules.Contains(module))
            {
                var embeddingA = $"{KeyPrefix}{module}.lora_embedding_A";
                var embeddingB = $"{KeyPrefix}{module}.lora_embedding_B";
                tensors.Add(KeyValuePair.Create(embeddingA, DemoModelGenerator.Draw(seed, stream + embeddingA, [rank, shape.InFeatures], 0, EmbeddingAStd)));
                tensors.Add(KeyValuePair.Create(embeddingB, DemoModelGenerator.Draw(seed, stream + embeddingB, [shape.OutFeatures, rank], 0, EmbeddingBStd)));
                continue;
            }

            var a = $"{KeyPrefix}{module}.lora_A.weight";
            var b = $"{KeyPrefix}{module}.lora_B.weight";
            var aWeight = DemoModelGenerator.Draw(seed, stream + a, [rank, shape.InFeatures], 0, 1 / Math.Sqrt(shape.InFeatures));
            var bWeight = DemoModelGenerator.Draw(seed, stream + b, [shape.OutFeatures, rank], 0, LoraBStd);
            tensors.Add(KeyValuePair.Create(a, aWeight));
            tensors.Add(KeyValuePair.Create(b, bWeight));
            if (adapter.UseDora)
            {
                var magnitude = $"{KeyPrefix}{module}.lora_magnitude_vector";
                tensors.Add(KeyValuePair.Create(magnitude, DoraMagnitude(model, module, aWeight, bWeight, config.ScaleFor(module), seed, stream + magnitude)));
            }
        }
        if (adapter.ClassifierLabels > 0)
        {
            var weight = $"{KeyPrefix}{model.ClassifierModule}.weight";
            tensors.Add(KeyValuePair.Create(weight,
                DemoModelGenerator.Draw(seed, stream + weight, [adapter.ClassifierLabels, model.HiddenSize], 0, DemoBert.ClassifierStd)));
            if (model.ClassifierHasBias)
            {
                var bias = $"{KeyPrefix}{model.ClassifierModule}.bias";
                tensors.Add(KeyValuePair.Create(bias, DemoModelGenerator.Draw(seed, stream + bias, [adapter.ClassifierLabels], 0, 0.02)));
            }
        }
        SafetensorsWriter.Write(Path.Combine(directory, LoraAdapterLoader.WeightsFileName), tensors, HuggingFaceFiles.SafetensorsMetadata);
        HuggingFaceFiles.WriteJson(Path.Combine(directory, LoraAdapterLoader.ConfigFileName), configJson);
    }

    /// <summary>
    /// PEFT initialises DoRA's magnitude to ‖W0 + s·B·A‖ per output row (DoraLinearLayer.update_layer, norm over the input
    /// dimension, W0 as the model stores it); training then moves it, here by a seeded factor around 1.
    /// </summary>
    private static Tensor DoraMagnitude(DemoModelPlan model, string module, Tensor a, Tensor b, double scale, int seed, string stream)
    {
        var key = module + ".weight";
        var spec = model.Tensors.Single(t => t.Key == key);
        // The base weight exactly as the checkpoint holds it: the same draw, rounded to the stored dtype.
        var weight = DemoModelGenerator.Draw(seed, $"{DemoModelGenerator.DirectoryName(model.Kind)}/{key}", spec.Shape, spec.Mean, spec.Std)
            .to(model.WeightDType).to(ScalarType.Float64);
        var norm = weight.Plus(b.to(ScalarType.Float64).mm(a.to(ScalarType.Float64)).Times(scale)).Power(2).sum(1).sqrt();
        var factor = DemoModelGenerator.Draw(seed, stream, [norm.shape[0]], 1, DoraMagnitudeSpread).to(ScalarType.Float64);
        return (norm * factor).to(ScalarType.Float32);
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
            ["use_dora"] = adapter.UseDora,
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
