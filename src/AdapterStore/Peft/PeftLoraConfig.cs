using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace InferServer.AdapterStore.Peft;

/// <summary>
/// A PEFT LoRA <c>adapter_config.json</c>. Keys that do not change inference math (<c>lora_dropout</c>,
/// <c>init_lora_weights</c>, <c>inference_mode</c>, <c>revision</c>, <c>auto_mapping</c>, <c>loftq_config</c>, …) are
/// ignored. The keys that do change it are all listed here, and <see cref="UnsupportedSettings"/> names every value this
/// server does not implement, so that an adapter is refused at load instead of served with different math.
/// </summary>
public sealed record PeftLoraConfig
{
    [JsonPropertyName("peft_type")]
    public string? PeftType { get; init; }

    [JsonPropertyName("task_type")]
    public string? TaskType { get; init; }

    [JsonPropertyName("base_model_name_or_path")]
    public string? BaseModelNameOrPath { get; init; }

    /// <summary>Default rank; PEFT's default is 8.</summary>
    [JsonPropertyName("r")]
    public int R { get; init; } = 8;

    /// <summary>Default alpha; PEFT's default is 8.</summary>
    [JsonPropertyName("lora_alpha")]
    public double LoraAlpha { get; init; } = 8;

    [JsonPropertyName("use_rslora")]
    public bool UseRslora { get; init; }

    [JsonPropertyName("target_modules")]
    public PeftTargetModules? TargetModules { get; init; }

    [JsonPropertyName("exclude_modules")]
    public PeftTargetModules? ExcludeModules { get; init; }

    /// <summary>
    /// True for GPT-2's Conv1D, whose base weight is stored [in, out]. PEFT still saves lora_A as [r, in] and lora_B as
    /// [out, r] and transposes only when merging, so the flag changes nothing for unmerged use.
    /// </summary>
    [JsonPropertyName("fan_in_fan_out")]
    public bool FanInFanOut { get; init; }

    [JsonPropertyName("rank_pattern")]
    [JsonConverter(typeof(OrderedPatternConverter))]
    public IReadOnlyList<KeyValuePair<string, double>>? RankPattern { get; init; }

    [JsonPropertyName("alpha_pattern")]
    [JsonConverter(typeof(OrderedPatternConverter))]
    public IReadOnlyList<KeyValuePair<string, double>>? AlphaPattern { get; init; }

    [JsonPropertyName("layers_to_transform")]
    [JsonConverter(typeof(IntOrIntListConverter))]
    public IReadOnlyList<int>? LayersToTransform { get; init; }

    [JsonPropertyName("layers_pattern")]
    [JsonConverter(typeof(StringOrStringListConverter))]
    public IReadOnlyList<string>? LayersPattern { get; init; }

    [JsonPropertyName("modules_to_save")]
    public IReadOnlyList<string>? ModulesToSave { get; init; }

    [JsonPropertyName("bias")]
    public string Bias { get; init; } = "none";

    [JsonPropertyName("use_dora")]
    public bool UseDora { get; init; }

    [JsonPropertyName("lora_bias")]
    public bool LoraBias { get; init; }

    [JsonPropertyName("use_qalora")]
    public bool UseQalora { get; init; }

    [JsonPropertyName("layer_replication")]
    public JsonElement? LayerReplication { get; init; }

    [JsonPropertyName("trainable_token_indices")]
    public JsonElement? TrainableTokenIndices { get; init; }

    [JsonPropertyName("target_parameters")]
    public JsonElement? TargetParameters { get; init; }

    [JsonPropertyName("alora_invocation_tokens")]
    public JsonElement? AloraInvocationTokens { get; init; }

    /// <summary>Label names some tools save beside a SEQ_CLS adapter; PEFT itself does not write them.</summary>
    [JsonPropertyName("id2label")]
    public IReadOnlyDictionary<string, string>? Id2Label { get; init; }

    /// <summary>Task types whose adapters change only linear layers (and a classifier head), which is what we serve.</summary>
    private static readonly string[] SupportedTaskTypes = ["CAUSAL_LM", "SEQ_CLS", "FEATURE_EXTRACTION"];

    /// <summary>PEFT adds these to <c>modules_to_save</c> for every SEQ_CLS model; they name the classification head.</summary>
    private static readonly string[] ClassifierHeadNames = ["classifier", "score"];

    public static PeftLoraConfig Parse(string json) =>
        JsonSerializer.Deserialize<PeftLoraConfig>(json) ?? throw new JsonException("adapter_config.json is JSON null");

    /// <summary>Every setting whose value this server does not implement, each naming the key and the value.</summary>
    public IReadOnlyList<string> UnsupportedSettings()
    {
        var problems = new List<string>();
        if (PeftType != "LORA")
        {
            problems.Add($"peft_type '{PeftType}' is not supported (only LORA)");
        }

        if (TaskType is not null && !SupportedTaskTypes.Contains(TaskType))
        {
            problems.Add($"task_type '{TaskType}' is not supported (supported: {string.Join(", ", SupportedTaskTypes)})");
        }

        if (R <= 0)
        {
            problems.Add($"r {R} is not a positive rank");
        }

        if (Bias != "none")
        {
            problems.Add($"bias '{Bias}' is not supported (only 'none': the adapter would change the base model's biases)");
        }

        if (LoraBias)
        {
            problems.Add("lora_bias true is not supported");
        }

        if (UseQalora)
        {
            problems.Add("use_qalora true is not supported");
        }

        AddIfSet(problems, "layer_replication", LayerReplication);
        AddIfSet(problems, "trainable_token_indices", TrainableTokenIndices);
        AddIfSet(problems, "target_parameters", TargetParameters);
        AddIfSet(problems, "alora_invocation_tokens", AloraInvocationTokens);

        if (TargetModules is null)
        {
            problems.Add("target_modules is missing (PEFT's per-architecture defaults are not applied here)");
        }

        // LoraConfig.__post_init__ refuses these combinations, so PEFT never saves them; a hand-written config gets the same answer.
        if (TargetModules?.Pattern is not null && LayersToTransform is { Count: > 0 })
        {
            problems.Add("layers_to_transform cannot be used when target_modules is a string (PEFT refuses this too)");
        }

        if (TargetModules?.Pattern is not null && LayersPattern is { Count: > 0 })
        {
            problems.Add("layers_pattern cannot be used when target_modules is a string (PEFT refuses this too)");
        }

        if (LayersPattern is { Count: > 0 } && LayersToTransform is null)
        {
            problems.Add("layers_pattern needs layers_to_transform (PEFT refuses it alone too)");
        }

        foreach (var module in ModulesToSave ?? [])
        {
            if (!ClassifierHeadNames.Contains(module))
            {
                problems.Add($"modules_to_save '{module}' is not supported (only a classifier head: {string.Join(", ", ClassifierHeadNames)})");
            }
        }

        foreach (var (key, pattern) in RegexSources())
        {
            try
            {
                _ = new Regex(pattern, RegexOptions.CultureInvariant);
            }
            catch (ArgumentException e)
            {
                problems.Add($"{key} pattern '{pattern}' is not a valid regular expression ({e.Message})");
            }
        }

        foreach (var (pattern, rank) in RankPattern ?? [])
        {
            if (rank <= 0 || rank != Math.Floor(rank))
            {
                problems.Add($"rank_pattern '{pattern}': {rank.ToString(CultureInfo.InvariantCulture)} is not a positive integer rank");
            }
        }

        return problems;
    }

    /// <summary>
    /// Whether PEFT would put a LoRA layer on <paramref name="module"/> (a path in the base model such as
    /// <c>model.layers.0.self_attn.q_proj</c>), following <c>check_target_module_exists</c> in peft/tuners/tuners_utils.py
    /// step by step: exclude_modules first (a string is a full-match regex, a list matches the path or a trailing
    /// <c>.{name}</c>); then anything inside a modules_to_save module is never adapted; then target_modules: a string is a
    /// full-match regex, a list entry equal to the whole path matches outright, and otherwise a list entry matches a trailing
    /// <c>.{name}</c> and layers_to_transform, when set, must contain the layer index of the path.
    /// </summary>
    /// <param name="module">The module path.</param>
    /// <param name="isLinear">Whether the module is a Linear or Conv1D layer: PEFT's <c>all-linear</c> expands to those only.</param>
    /// <param name="outputHead">The model's output head (<c>lm_head</c>), which <c>all-linear</c> leaves out
    /// (<c>_maybe_include_all_linear_layers</c> drops <c>get_output_embeddings()</c>).</param>
    public bool Targets(string module, bool isLinear = true, string? outputHead = null)
    {
        if (TargetModules is null || (ExcludeModules is not null && IsExcluded(ExcludeModules, module)) || InModulesToSave(module))
        {
            return false;
        }

        if (TargetModules.IsAllLinear)
        {
            // PEFT replaces "all-linear" by the set of full paths of every Linear/Conv1D but the output head, so each one
            // then matches as "the whole path is listed", where layers_to_transform does not apply (and PEFT refuses
            // layers_to_transform with a string target_modules anyway).
            return isLinear && module != outputHead;
        }

        if (TargetModules.Pattern is { } pattern)
        {
            return Regex.IsMatch(module, $"^(?:{pattern})$", RegexOptions.CultureInvariant);
        }

        if (TargetModules.Names!.Contains(module))
        {
            return true;
        }

        if (!TargetModules.Names!.Any(name => module.EndsWith("." + name, StringComparison.Ordinal)))
        {
            return false;
        }

        return LayersToTransform is not { Count: > 0 } || (LayerIndex(module) is int layer && LayersToTransform.Contains(layer));
    }

    /// <summary>The module's rank: the first matching rank_pattern entry, else <see cref="R"/>.</summary>
    public int RankFor(string module) => (int)(FirstPatternValue(RankPattern, module) ?? R);

    /// <summary>The module's alpha: the first matching alpha_pattern entry, else <see cref="LoraAlpha"/>.</summary>
    public double AlphaFor(string module) => FirstPatternValue(AlphaPattern, module) ?? LoraAlpha;

    /// <summary>
    /// The LoRA scale s in y = x·W0ᵀ + s·(x·Aᵀ)·Bᵀ: alpha / r (Hu et al. 2021, "LoRA"), or alpha / sqrt(r) with rsLoRA
    /// (Kalajdzievski 2023, "A Rank Stabilization Scaling Factor"), as PEFT's <c>LoraLayer.update_layer</c> computes it.
    /// </summary>
    public double ScaleFor(string module)
    {
        var rank = RankFor(module);
        var alpha = AlphaFor(module);
        return UseRslora ? alpha / Math.Sqrt(rank) : alpha / rank;
    }

    private static void AddIfSet(List<string> problems, string key, JsonElement? value)
    {
        if (value is { } element && element.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined)
            && !(element.ValueKind == JsonValueKind.Array && element.GetArrayLength() == 0)
            && !(element.ValueKind == JsonValueKind.Object && !element.EnumerateObject().Any()))
        {
            problems.Add($"{key} {element.GetRawText()} is not supported");
        }
    }

    private IEnumerable<(string Key, string Pattern)> RegexSources()
    {
        if (TargetModules?.Pattern is { } target && !TargetModules.IsAllLinear)
        {
            yield return ("target_modules", target);
        }

        if (ExcludeModules?.Pattern is { } exclude)
        {
            yield return ("exclude_modules", exclude);
        }

        foreach (var (pattern, _) in RankPattern ?? [])
        {
            yield return ("rank_pattern", pattern);
        }

        foreach (var (pattern, _) in AlphaPattern ?? [])
        {
            yield return ("alpha_pattern", pattern);
        }

        foreach (var pattern in LayersPattern ?? [])
        {
            yield return ("layers_pattern", pattern);
        }
    }

    /// <summary>PEFT's exclude_modules: a string must match the whole path; a list entry matches the path or its last components.</summary>
    private static bool IsExcluded(PeftTargetModules excluded, string module) =>
        excluded.Names is not null
            ? excluded.Names.Any(name => module == name || module.EndsWith("." + name, StringComparison.Ordinal))
            : Regex.IsMatch(module, $"^(?:{excluded.Pattern})$", RegexOptions.CultureInvariant);

    /// <summary>
    /// PEFT never adapts a module inside a modules_to_save module (<c>re.match(rf"(^|.*\.){m}($|\..*)", key)</c>): the
    /// wrapper that trains the copy and a LoRA layer would conflict.
    /// </summary>
    private bool InModulesToSave(string module) =>
        (ModulesToSave ?? []).Any(name => Regex.IsMatch(module, $@"^(?:^|.*\.){name}(?:$|\..*)", RegexOptions.CultureInvariant));

    /// <summary>
    /// PEFT's layer index: the number after <c>.{layers_pattern}.</c>, or after the first <c>.{name}.</c> when that is unset.
    /// The lazy <c>.*?</c> is PEFT's: the first numbered component is the layer, not an expert index nested inside it.
    /// </summary>
    private int? LayerIndex(string module)
    {
        var patterns = LayersPattern is { Count: > 0 } ? LayersPattern.Select(p => $@"^.*?\.{p}\.(\d+)\.") : [@"^.*?\.[^.]*\.(\d+)\."];
        foreach (var pattern in patterns)
        {
            var match = Regex.Match(module, pattern, RegexOptions.CultureInvariant);
            if (match.Success)
            {
                return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    /// <summary>PEFT's <c>get_pattern_key</c>: the first pattern p with <c>re.match(rf"(.*\.)?({p})$", module)</c>.</summary>
    private static double? FirstPatternValue(IReadOnlyList<KeyValuePair<string, double>>? patterns, string module)
    {
        foreach (var (pattern, value) in patterns ?? [])
        {
            if (Regex.IsMatch(module, $@"^(?:.*\.)?(?:{pattern})$", RegexOptions.CultureInvariant))
            {
                return value;
            }
        }

        return null;
    }
}
