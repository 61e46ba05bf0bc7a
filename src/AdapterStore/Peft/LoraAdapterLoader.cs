using InferServer.AdapterStore.Configuration;
using InferServer.Kernels;
using System.Globalization;
using System.Text.Json;
using InferServer.Safetensors;
using TorchSharp;

namespace InferServer.AdapterStore.Peft;

/// <summary>
/// Loads a PEFT LoRA adapter directory (<c>adapter_config.json</c> + <c>adapter_model.safetensors</c>, as
/// <c>save_pretrained</c> writes it). Everything is validated against the base model first and every problem is reported
/// together in one <see cref="InvalidAdapterException"/>; only a fully valid adapter is copied into tensors.
/// </summary>
public static class LoraAdapterLoader
{
    public const string ConfigFileName = "adapter_config.json";
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>PEFT's <c>get_peft_model_state_dict</c> saves keys relative to the PeftModel, whose base sits at <c>base_model.model</c>.</summary>
    private const string KeyPrefix = "base_model.model.";

    private const string LoraASuffix = ".lora_A.weight";
    private const string LoraBSuffix = ".lora_B.weight";

    /// <summary>PEFT's lora.Embedding keeps A and B as bare parameters: <c>lora_embedding_A</c> [r, entries], <c>_B</c> [dimension, r].</summary>
    private const string EmbeddingASuffix = ".lora_embedding_A";
    private const string EmbeddingBSuffix = ".lora_embedding_B";

    /// <summary>
    /// DoRA's magnitude. PEFT saves <c>lora_magnitude_vector</c> with no <c>.weight</c> (save_and_load.py strips it to keep the
    /// format of before DoRA became a module); a file written from a raw state_dict may keep it, so both are read.
    /// </summary>
    private static readonly string[] MagnitudeSuffixes = [".lora_magnitude_vector", ".lora_magnitude_vector.weight"];

    private static readonly SafetensorsDType[] WeightDTypes = [SafetensorsDType.F32, SafetensorsDType.F16, SafetensorsDType.BF16, SafetensorsDType.F64];

    /// <summary>
    /// Loads adapter <paramref name="name"/> from <paramref name="directory"/> for the base model described by
    /// <paramref name="spec"/>, converting every tensor to <paramref name="dtype"/>. Modules whose rank exceeds
    /// <paramref name="maxRank"/> (the server's slot rank) are refused. With <paramref name="identity"/>, an adapter trained on
    /// another base is refused or warned about by its policy. Every file is opened through <see cref="ConfinedFile"/>: a
    /// regular file whose real path is inside <paramref name="roots"/> (default: the directory itself), configs capped in size.
    /// </summary>
    public static LoraAdapter Load(
        string directory, string name, BaseModelSpec spec, torch.ScalarType dtype, int maxRank = int.MaxValue, BaseModelIdentity? identity = null,
        IReadOnlyList<string>? roots = null)
    {
        if (dtype is not (torch.ScalarType.Float32 or torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Float64))
        {
            throw new ArgumentException($"Adapters load as a floating-point dtype, not {dtype}.", nameof(dtype));
        }

        if (!System.IO.Directory.Exists(directory))
        {
            throw new InvalidAdapterException(name, directory, ["adapter directory does not exist"]);
        }

        roots ??= [directory];
        var problems = new List<string>();
        var config = ReadConfig(directory, roots, problems);
        using var file = OpenWeights(directory, roots, problems);
        if (file is null)
        {
            throw new InvalidAdapterException(name, directory, problems);
        }

        // A config with unsupported values (an invalid regex, say) is not used to judge the weights; the weights are still
        // checked against the base model so that all problems come back at once.
        if (identity?.Mismatch(config?.BaseModelNameOrPath) is { } mismatch)
        {
            if (identity.Policy == BaseModelCheck.Refuse)
            {
                problems.Add($"{mismatch} (Adapters:BaseModelCheck is refuse)");
            }
            else
            {
                identity.Warn?.Invoke(mismatch);
            }
        }

        var plan = Validate(problems.Count == 0 ? config : null, file, spec, maxRank, problems);
        if (problems.Count > 0 || config is null)
        {
            throw new InvalidAdapterException(name, directory, problems);
        }

        return Materialize(name, directory, config, file, plan, LabelNames(directory, roots, config, plan.Head), dtype, spec);
    }

    private sealed record ModulePlan(string Module, string AKey, string BKey, int Rank, double Scale, string? MagnitudeKey);

    private sealed record HeadPlan(string WeightKey, string? BiasKey, int Labels);

    private sealed record LoadPlan(IReadOnlyList<ModulePlan> Modules, HeadPlan? Head);

    private static PeftLoraConfig? ReadConfig(string directory, IReadOnlyList<string> roots, List<string> problems)
    {
        string? text;
        try
        {
            text = ConfinedFile.ReadAllText(Path.Combine(directory, ConfigFileName), roots);
        }
        catch (IOException e)
        {
            problems.Add(e is ConfinedFileException ? e.Message : $"{ConfigFileName} cannot be read");
            return null;
        }

        if (text is null)
        {
            problems.Add($"{ConfigFileName} is missing");
            return null;
        }

        PeftLoraConfig config;
        try
        {
            config = PeftLoraConfig.Parse(text);
        }
        catch (JsonException e)
        {
            problems.Add($"{ConfigFileName} is malformed: {e.Message}");
            return null;
        }

        problems.AddRange(config.UnsupportedSettings().Select(problem => $"{ConfigFileName}: {problem}"));
        return config;
    }

    private static SafetensorsFile? OpenWeights(string directory, IReadOnlyList<string> roots, List<string> problems)
    {
        var path = Path.Combine(directory, WeightsFileName);
        FileStream? stream;
        try
        {
            stream = ConfinedFile.OpenRead(path, roots, long.MaxValue);
        }
        catch (IOException e)
        {
            problems.Add(e is ConfinedFileException ? e.Message : $"{WeightsFileName} cannot be read");
            return null;
        }

        if (stream is null)
        {
            // A pickle can run arbitrary code when unpickled; we never read one.
            problems.Add(File.Exists(Path.Combine(directory, "adapter_model.bin"))
                ? $"only a pickled adapter_model.bin is present; convert it to {WeightsFileName} (pickles are not loaded)"
                : $"{WeightsFileName} is missing");
            return null;
        }

        try
        {
            return SafetensorsFile.Open(stream, WeightsFileName); // errors name the file, not the server path
        }
        catch (SafetensorsFormatException e)
        {
            problems.Add(e.Message);
            return null;
        }
    }

    private static LoadPlan Validate(PeftLoraConfig? config, SafetensorsFile file, BaseModelSpec spec, int maxRank, List<string> problems)
    {
        var pairs = new SortedDictionary<string, (string? A, string? B)>(StringComparer.Ordinal);
        var magnitudes = new Dictionary<string, string>(StringComparer.Ordinal);
        string? headWeight = null;
        string? headBias = null;
        foreach (var key in file.Tensors.Keys.Order(StringComparer.Ordinal))
        {
            var rest = key.StartsWith(KeyPrefix, StringComparison.Ordinal) ? key[KeyPrefix.Length..] : "";
            if (LoraPart(rest) is ({ } module, { } isA, { } isEmbeddingKey))
            {
                if (isEmbeddingKey != spec.Embeddings.Contains(module) && spec.Modules.ContainsKey(module))
                {
                    problems.Add(isEmbeddingKey
                        ? $"key '{key}' is an embedding LoRA weight, but module '{module}' is a linear layer"
                        : $"key '{key}' is a linear LoRA weight, but module '{module}' is an embedding (PEFT saves lora_embedding_A/B there)");
                }

                pairs[module] = isA ? (key, pairs.GetValueOrDefault(module).B) : (pairs.GetValueOrDefault(module).A, key);
            }
            else if (MagnitudeSuffixes.FirstOrDefault(suffix => rest.EndsWith(suffix, StringComparison.Ordinal)) is { } magnitudeSuffix)
            {
                magnitudes[rest[..^magnitudeSuffix.Length]] = key;
            }
            else if (spec.Classifier is { } head && rest == head.Name + ".weight")
            {
                headWeight = key;
            }
            else if (spec.Classifier is { } biasHead && rest == biasHead.Name + ".bias")
            {
                headBias = key;
            }
            else
            {
                problems.Add(spec.Classifier is null && (rest.StartsWith("classifier.", StringComparison.Ordinal) || rest.StartsWith("score.", StringComparison.Ordinal))
                    ? $"key '{key}' is a classifier head, but base model '{spec.ModelType}' has no classifier"
                    : $"unexpected key '{key}' (neither a LoRA weight nor the base model's classifier head)");
            }
        }

        var modules = new List<ModulePlan>();
        foreach (var (module, (aKey, bKey)) in pairs)
        {
            if (CheckModule(config, file, spec, maxRank, module, aKey, bKey, problems) is { } plan)
            {
                modules.Add(CheckDora(config!, file, spec, plan, magnitudes.GetValueOrDefault(module), problems) ? plan with { MagnitudeKey = magnitudes.GetValueOrDefault(module) } : plan);
            }
        }

        foreach (var (module, key) in magnitudes.Where(m => !pairs.ContainsKey(m.Key)).OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            problems.Add($"key '{key}' is a DoRA magnitude for module '{module}', which has no lora_A/lora_B");
        }

        if (config is not null && config.TargetModules is not null && spec.TargetedModules(config).Count == 0 && spec.Modules.Count > 0)
        {
            // PEFT's inject_adapter raises "Target modules … not found in the base model" here, e.g. q_proj/v_proj on Phi-3,
            // whose attention has one fused qkv_proj.
            problems.Add($"target_modules {config.TargetModules} match no module of base model '{spec.ModelType}' (PEFT refuses such an adapter: the target modules are not found in the base model)");
        }

        if (config is not null)
        {
            foreach (var module in spec.TargetedModules(config).Where(m => !pairs.ContainsKey(m)))
            {
                problems.Add($"module '{module}' is targeted by target_modules {config.TargetModules} but the adapter has no weights for it");
            }
        }

        return new LoadPlan(modules, CheckHead(file, spec, headWeight, headBias, problems));
    }

    /// <summary>Module, whether it is A (else B), whether it is an embedding's key; null for any other key.</summary>
    private static (string Module, bool IsA, bool IsEmbedding)? LoraPart(string rest)
    {
        foreach (var (suffix, isA, isEmbedding) in new[] { (LoraASuffix, true, false), (LoraBSuffix, false, false), (EmbeddingASuffix, true, true), (EmbeddingBSuffix, false, true) })
        {
            if (rest.EndsWith(suffix, StringComparison.Ordinal))
            {
                return (rest[..^suffix.Length], isA, isEmbedding);
            }
        }

        return null;
    }

    private static ModulePlan? CheckModule(
        PeftLoraConfig? config, SafetensorsFile file, BaseModelSpec spec, int maxRank, string module, string? aKey, string? bKey, List<string> problems)
    {
        var anyKey = (aKey ?? bKey)!;
        if (!spec.Modules.TryGetValue(module, out var shape))
        {
            problems.Add($"key '{anyKey}' maps to no adaptable module of base model '{spec.ModelType}' (module '{module}')");
            return null;
        }

        var before = problems.Count;
        if (config is not null && !spec.Targets(config, module))
        {
            var layers = config.LayersToTransform is { Count: > 0 } l ? $" with layers_to_transform [{string.Join(", ", l)}]" : "";
            problems.Add($"module '{module}' has LoRA weights but is not matched by target_modules {config.TargetModules}{layers}");
        }

        if (aKey is null || bKey is null)
        {
            problems.Add($"module '{module}' has {(aKey is null ? "lora_B but no lora_A" : "lora_A but no lora_B")}");
            return null;
        }

        var a = file.Tensors[aKey];
        var b = file.Tensors[bKey];
        foreach (var info in new[] { a, b }.Where(info => !WeightDTypes.Contains(info.DType)))
        {
            problems.Add($"key '{info.Name}' has dtype {info.DType}, not a floating-point type");
        }

        if (a.Shape.Length != 2 || b.Shape.Length != 2)
        {
            problems.Add($"module '{module}': lora_A {Show(a.Shape)} and lora_B {Show(b.Shape)} must both be matrices");
            return null;
        }

        var rank = a.Shape[0];
        if (a.Shape[1] != shape.InFeatures)
        {
            problems.Add($"module '{module}': lora_A {Show(a.Shape)} should be [r, {shape.InFeatures}] (the module's in_features)");
        }

        if (b.Shape[0] != shape.OutFeatures)
        {
            problems.Add($"module '{module}': lora_B {Show(b.Shape)} should be [{shape.OutFeatures}, r] (the module's out_features)");
        }

        if (b.Shape[1] != rank)
        {
            problems.Add($"module '{module}': lora_A {Show(a.Shape)} has rank {rank} but lora_B {Show(b.Shape)} has rank {b.Shape[1]}");
        }

        if (config is not null && rank != config.RankFor(module))
        {
            problems.Add($"module '{module}': weights have rank {rank} but the config gives rank {config.RankFor(module)} (r / rank_pattern)");
        }

        if (rank > maxRank)
        {
            problems.Add($"module '{module}': rank {rank} is above the maximum rank {maxRank}");
        }

        if (rank == 0)
        {
            problems.Add($"module '{module}': rank 0 is not a LoRA");
        }

        return problems.Count == before && config is not null
            ? new ModulePlan(module, aKey, bKey, (int)rank, config.ScaleFor(module), null)
            : null;
    }

    /// <summary>
    /// A DoRA module needs its magnitude [out] and the base weight to norm against; a plain LoRA module must have no magnitude.
    /// True when the module is a valid DoRA module.
    /// </summary>
    private static bool CheckDora(PeftLoraConfig config, SafetensorsFile file, BaseModelSpec spec, ModulePlan plan, string? magnitudeKey, List<string> problems)
    {
        if (!config.UseDora)
        {
            if (magnitudeKey is not null)
            {
                problems.Add($"key '{magnitudeKey}' is a DoRA magnitude, but use_dora is false");
            }

            return false;
        }

        if (spec.Embeddings.Contains(plan.Module))
        {
            // PEFT's DoraEmbeddingLayer norms the table per entry and scales the delta only; not implemented here.
            problems.Add($"module '{plan.Module}': DoRA on an embedding is not supported (only plain LoRA on embeddings)");
            return false;
        }

        if (magnitudeKey is null)
        {
            problems.Add($"module '{plan.Module}': use_dora is true but there is no lora_magnitude_vector");
            return false;
        }

        var before = problems.Count;
        var magnitude = file.Tensors[magnitudeKey];
        var outFeatures = spec.Modules[plan.Module].OutFeatures;
        if (magnitude.Shape is not [var length] || length != outFeatures)
        {
            problems.Add($"module '{plan.Module}': lora_magnitude_vector {Show(magnitude.Shape)} should be [{outFeatures}] (the module's out_features)");
        }

        if (!WeightDTypes.Contains(magnitude.DType))
        {
            problems.Add($"key '{magnitudeKey}' has dtype {magnitude.DType}, not a floating-point type");
        }

        if (spec.BaseWeights is null)
        {
            problems.Add($"module '{plan.Module}': DoRA needs the base model's weights to compute its norm, and none were given");
        }

        return problems.Count == before;
    }

    private static HeadPlan? CheckHead(SafetensorsFile file, BaseModelSpec spec, string? weightKey, string? biasKey, List<string> problems)
    {
        if (weightKey is null && biasKey is null)
        {
            return null;
        }

        var head = spec.Classifier!;
        if (weightKey is null)
        {
            problems.Add($"classifier head has a bias '{biasKey}' but no weight");
            return null;
        }

        var before = problems.Count;
        var weight = file.Tensors[weightKey];
        if (weight.Shape.Length != 2 || weight.Shape[1] != head.InFeatures || weight.Shape[0] == 0)
        {
            problems.Add($"classifier head weight '{weightKey}' {Show(weight.Shape)} should be [labels, {head.InFeatures}] (the classifier's in_features)");
            return null;
        }

        var labels = weight.Shape[0];
        if (biasKey is not null && !(file.Tensors[biasKey].Shape is [var biasLabels] && biasLabels == labels))
        {
            problems.Add($"classifier head bias '{biasKey}' {Show(file.Tensors[biasKey].Shape)} should be [{labels}]");
        }

        if (head.HasBias != (biasKey is not null))
        {
            problems.Add(head.HasBias
                ? $"classifier head has no bias, but base model '{spec.ModelType}''s classifier '{head.Name}' has one"
                : $"classifier head has a bias '{biasKey}', but base model '{spec.ModelType}''s classifier '{head.Name}' has none");
        }

        foreach (var key in new[] { weightKey, biasKey }.OfType<string>().Where(key => !WeightDTypes.Contains(file.Tensors[key].DType)))
        {
            problems.Add($"key '{key}' has dtype {file.Tensors[key].DType}, not a floating-point type");
        }

        return problems.Count == before ? new HeadPlan(weightKey, biasKey, (int)labels) : null;
    }

    /// <summary>Label names from the adapter's own id2label (adapter_config.json, else a config.json beside it), else LABEL_i.</summary>
    private static IReadOnlyList<string> LabelNames(string directory, IReadOnlyList<string> roots, PeftLoraConfig config, HeadPlan? head)
    {
        if (head is null)
        {
            return [];
        }

        var id2Label = config.Id2Label;
        if (id2Label is null && ConfinedFile.ReadAllText(Path.Combine(directory, "config.json"), roots) is { } modelConfig)
        {
            using var document = JsonDocument.Parse(modelConfig);
            if (document.RootElement.TryGetProperty("id2label", out var element) && element.ValueKind == JsonValueKind.Object)
            {
                id2Label = element.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? p.Name);
            }
        }

        return [.. Enumerable.Range(0, head.Labels).Select(i =>
            id2Label?.GetValueOrDefault(i.ToString(CultureInfo.InvariantCulture)) ?? $"LABEL_{i}")];
    }

    private static LoraAdapter Materialize(
        string name, string directory, PeftLoraConfig config, SafetensorsFile file, LoadPlan plan, IReadOnlyList<string> labels, torch.ScalarType dtype,
        BaseModelSpec spec)
    {
        var owned = new List<torch.Tensor>();
        try
        {
            var modules = new Dictionary<string, LoraModuleWeights>(StringComparer.Ordinal);
            foreach (var module in plan.Modules)
            {
                var a = Load(file, module.AKey, dtype, owned);
                var b = Load(file, module.BKey, dtype, owned);
                var dora = module.MagnitudeKey is null ? null : LoadDora(file, module, a, b, spec, owned);
                modules.Add(module.Module, new LoraModuleWeights(module.Module, a, b, module.Rank, module.Scale, dora));
            }

            var head = plan.Head is null ? null : new LoraClassifierHead(
                Load(file, plan.Head.WeightKey, dtype, owned),
                plan.Head.BiasKey is null ? null : Load(file, plan.Head.BiasKey, dtype, owned),
                labels);
            return new LoraAdapter(name, directory, config, modules, head);
        }
        catch
        {
            owned.ForEach(tensor => tensor.Dispose());
            throw;
        }
    }

    /// <summary>
    /// DoRA's magnitude m and weight norm <c>‖W0 + s·B·A‖</c> per output row (PEFT <c>DoraLinearLayer.get_weight_norm</c>:
    /// <c>torch.linalg.norm(W0 + scaling·lora_weight, dim=1)</c> with W0 as [out, in], so a Conv1D's W0 is transposed first, as
    /// our models store it anyway). Computed once here, in float64 from the adapter's B and A as served, and kept with the adapter.
    /// </summary>
    private static DoraMagnitude LoadDora(SafetensorsFile file, ModulePlan module, torch.Tensor a, torch.Tensor b, BaseModelSpec spec, List<torch.Tensor> owned)
    {
        var magnitude = Load(file, module.MagnitudeKey!, torch.ScalarType.Float64, owned);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var weight = spec.BaseWeights!(module.Module).to(torch.ScalarType.Float64, torch.CPU);
        var adapted = weight.Plus(b.to(torch.ScalarType.Float64).mm(a.to(torch.ScalarType.Float64)).Times(module.Scale));
        // linalg.norm hands its double order to libtorch as a number (vector_norm makes a Scalar of it that nothing keeps
        // alive); with one dim, at::linalg_norm is linalg_vector_norm at that order.
        var norm = torch.linalg.norm(adapted, 2.0, dims: [1]).DetachFromDisposeScope();
        owned.Add(norm);
        return new DoraMagnitude(magnitude, norm);
    }

    /// <summary>Reads and converts one tensor; the result outlives any dispose scope, since the adapter owns it.</summary>
    private static torch.Tensor Load(SafetensorsFile file, string key, torch.ScalarType dtype, List<torch.Tensor> owned)
    {
        using var scope = torch.NewDisposeScope();
        var converted = file.Read(key).to(dtype).DetachFromDisposeScope();
        owned.Add(converted);
        return converted;
    }

    private static string Show(long[] shape) => $"[{string.Join(", ", shape)}]";
}
