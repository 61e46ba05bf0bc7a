using System.Text.Json;
using System.Text.Json.Serialization;
using InferServer.Engine.Models.Common;
using InferServer.Kernels.Rotary;

namespace InferServer.Engine.Models.Llama;

/// <summary>
/// config.json of LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM: one architecture with a few
/// switches (Qwen3's is an RMSNorm per query and key head before RoPE, <see cref="HasQueryKeyNorm"/>).
/// Keys that do not change the math (_name_or_path, transformers_version, use_cache, torch_dtype…) are ignored;
/// those that do and that we do not implement are refused by <see cref="Validate"/>, by name.
/// </summary>
public sealed record LlamaConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "llama";
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }
    [JsonPropertyName("head_dim")] public int? HeadDim { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 2048;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000;
    [JsonPropertyName("rope_scaling")] public JsonElement? RopeScaling { get; init; }
    [JsonPropertyName("partial_rotary_factor")] public double? PartialRotaryFactor { get; init; }
    [JsonPropertyName("original_max_position_embeddings")] public int? OriginalMaxPositionEmbeddings { get; init; }
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("mlp_bias")] public bool MlpBias { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool? TieWordEmbeddings { get; init; }
    [JsonPropertyName("sliding_window")] public int? SlidingWindow { get; init; }
    [JsonPropertyName("use_sliding_window")] public bool? UseSlidingWindow { get; init; }
    [JsonPropertyName("layer_types")] public IReadOnlyList<string>? LayerTypes { get; init; }
    [JsonPropertyName("rope_parameters")] public JsonElement? RopeParameters { get; init; }
    [JsonPropertyName("num_local_experts")] public int? NumLocalExperts { get; init; }
    [JsonPropertyName("num_experts")] public int? NumExperts { get; init; }
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; init; }
    [JsonPropertyName("id2label")] public Dictionary<string, string>? Id2Label { get; init; }
    [JsonPropertyName("num_labels")] public int? NumLabels { get; init; }
    [JsonPropertyName("problem_type")] public string? ProblemType { get; init; }

    /// <summary>
    /// Qwen3: q_norm and k_norm, an RMSNorm over head_dim applied to every query and key head after the projection and
    /// before RoPE (transformers' Qwen3Attention).
    /// </summary>
    public bool HasQueryKeyNorm => ModelType == "qwen3";

    /// <summary>Qwen2 puts biases on q, k and v (not o) whatever attention_bias says; Llama's attention_bias covers all four.</summary>
    public bool QkvBias => ModelType == "qwen2" || AttentionBias;

    /// <summary>Bias on o_proj.</summary>
    public bool OutputBias => ModelType != "qwen2" && AttentionBias;

    /// <summary>Bias on the MLP projections: mlp_bias, which transformers' Qwen3MLP ignores (always bias=False).</summary>
    public bool MlpProjectionBias => ModelType != "qwen3" && MlpBias;

    /// <summary>Key/value heads (grouped-query attention when fewer than query heads).</summary>
    public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;

    /// <summary>Per-head width: head_dim, which Qwen3Config defaults to 128 (not hidden_size / num_attention_heads).</summary>
    public int HeadDimension => HeadDim ?? (ModelType == "qwen3" ? 128 : HiddenSize / NumAttentionHeads);

    /// <summary>Untied by default for Llama and Mistral; transformers' Qwen2 config also defaults to false.</summary>
    public bool TiedEmbeddings => TieWordEmbeddings ?? false;

    /// <summary>The window attention is limited to: Mistral's sliding_window; Qwen2's only when use_sliding_window.</summary>
    public int? EffectiveSlidingWindow => ModelType switch
    {
        "mistral" => SlidingWindow,
        "qwen2" => UseSlidingWindow == true ? SlidingWindow : null,
        // Phi3Attention passes sliding_window to the attention as Mistral does.
        "phi3" => SlidingWindow,
        _ => null,
    };

    /// <summary>
    /// How many leading dimensions of each head RoPE rotates: int(head_dim · partial_rotary_factor), as transformers'
    /// Phi3RotaryEmbedding computes it (Phi-4-mini: 0.75 · 128 = 96); the whole head without the factor.
    /// </summary>
    public int RotaryDimension => (int)(HeadDimension * (PartialRotaryFactor ?? 1.0));

    /// <summary>rope_scaling's type ("rope_type", or the legacy "type"), or null without rope_scaling.</summary>
    private string? RopeScalingType =>
        RopeScaling is not { ValueKind: JsonValueKind.Object } scaling ? null
        : scaling.TryGetProperty("rope_type", out var t) ? t.GetString()
        : scaling.TryGetProperty("type", out var legacy) ? legacy.GetString() : null;

    /// <summary>Phi-3's LongRoPE: rope_scaling type longrope (or su, its former name, which Phi3Config renames).</summary>
    private bool IsLongRope => ModelType == "phi3" && RopeScalingType is "longrope" or "su";

    /// <summary>
    /// Phi-3's LongRoPE parameters (transformers' _compute_longrope_parameters with Phi3Config, which always has
    /// original_max_position_embeddings, default 4096): the short and long factors, and the attention factor from
    /// rope_scaling or from max_position_embeddings / original_max_position_embeddings. Null unless rope_scaling is longrope.
    /// </summary>
    public LongRope? ParsedLongRope()
    {
        if (!IsLongRope || RopeScaling is not { } scaling)
        {
            return null;
        }

        double[] Factors(string key) =>
            scaling.TryGetProperty(key, out var list) && list.ValueKind == JsonValueKind.Array
            && list.EnumerateArray().All(v => v.ValueKind == JsonValueKind.Number)
                ? [.. list.EnumerateArray().Select(v => v.GetDouble())]
                : throw new NotSupportedException($"rope_scaling {key} must be a list of numbers for longrope, got {(list.ValueKind == JsonValueKind.Undefined ? "none" : list.GetRawText())}");
        var shortFactor = Factors("short_factor");
        var longFactor = Factors("long_factor");
        if (shortFactor.Length != RotaryDimension / 2 || longFactor.Length != RotaryDimension / 2)
        {
            throw new NotSupportedException($"rope_scaling short_factor and long_factor must have {RotaryDimension / 2} entries (half the rotary dimension {RotaryDimension}), got {shortFactor.Length} and {longFactor.Length}");
        }

        var original = OriginalMaxPositionEmbeddings ?? 4096;
        var attentionFactor = scaling.TryGetProperty("attention_factor", out var given) && given.ValueKind == JsonValueKind.Number
            ? given.GetDouble()
            : LongRope.DefaultAttentionFactor(MaxPositionEmbeddings, original);
        return new LongRope(shortFactor, longFactor, original, attentionFactor);
    }

    /// <summary>Parsed rope_scaling, or null for plain RoPE (and for Phi-3's longrope: <see cref="ParsedLongRope"/>).</summary>
    public RopeScaling? ParsedRopeScaling()
    {
        if (RopeScaling is not { ValueKind: JsonValueKind.Object } scaling || IsLongRope)
        {
            return null;
        }

        var type = RopeScalingType;
        double Number(string key, double fallback) =>
            scaling.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : fallback;
        return type switch
        {
            null or "default" => null,
            "linear" or "llama3" => new RopeScaling(type, Number("factor", 1), Number("low_freq_factor", 1),
                Number("high_freq_factor", 4), (int)Number("original_max_position_embeddings", 8192)),
            _ => throw new NotSupportedException($"rope_scaling type '{type}' (only linear and llama3 are implemented)"),
        };
    }

    /// <summary>The score head's label names by index (*ForSequenceClassification): id2label, else LABEL_i for num_labels.</summary>
    public IReadOnlyList<string> Labels => ClassifierLabels.From(Id2Label, NumLabels);

    /// <summary>What a *ForSequenceClassification config may not say: a problem_type whose outputs we do not compute, no labels.</summary>
    public IReadOnlyList<string> ClassifierProblems()
    {
        var problems = new List<string>();
        if (ProblemType is not (null or "single_label_classification" or "multi_label_classification"))
        {
            problems.Add($"problem_type '{ProblemType}' is not implemented (single_label_classification, multi_label_classification are)");
        }

        if (Labels.Count == 0)
        {
            problems.Add($"num_labels {NumLabels} gives the score head no label");
        }

        return problems;
    }

    /// <summary>Every setting we cannot honour, named with its value.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (VocabSize <= 0 || HiddenSize <= 0 || IntermediateSize <= 0 || NumHiddenLayers <= 0 || NumAttentionHeads <= 0)
        {
            problems.Add("vocab_size, hidden_size, intermediate_size, num_hidden_layers and num_attention_heads must be positive");
        }
        else if (HeadDim is null && ModelType != "qwen3" && HiddenSize % NumAttentionHeads != 0)
        {
            problems.Add($"hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}");
        }

        if (NumAttentionHeads > 0 && (KeyValueHeads <= 0 || NumAttentionHeads % KeyValueHeads != 0))
        {
            problems.Add($"num_key_value_heads {KeyValueHeads} must divide num_attention_heads {NumAttentionHeads}");
        }

        if (HiddenAct != "silu")
        {
            problems.Add($"hidden_act '{HiddenAct}' is not implemented for {ModelType} (silu is)");
        }

        // Phi3RotaryEmbedding and its apply_rotary_pos_emb rotate the first int(head_dim · factor) dimensions; the other
        // families' modeling code rotates the whole head.
        if (PartialRotaryFactor is double factor && factor != 1.0 && ModelType != "phi3")
        {
            problems.Add($"partial_rotary_factor {factor} is not implemented for {ModelType} (1.0 is; phi3 honours it)");
        }
        else if (PartialRotaryFactor is double partial && NumAttentionHeads > 0 && (partial <= 0 || partial > 1 || RotaryDimension % 2 != 0 || RotaryDimension == 0))
        {
            problems.Add($"partial_rotary_factor {partial} gives a rotary dimension of {RotaryDimension} for head_dim {HeadDimension} (it must be even, positive and at most head_dim)");
        }

        if (ModelType == "phi3" && RopeScalingType is { } phi3Rope && !IsLongRope)
        {
            // Phi3Config._rope_scaling_validation accepts longrope only (su and yarn renamed to it; yarn's fields differ).
            problems.Add($"rope_scaling type '{phi3Rope}' is not implemented for phi3 (longrope and su are)");
        }

        if (NumAttentionHeads > 0)
        {
            try { ParsedLongRope(); }
            catch (NotSupportedException e) { problems.Add(e.Message); }
        }

        if (ModelType == "qwen3")
        {
            // Qwen3Config: the window applies only with use_sliding_window, to the layers from max_window_layers on (or those
            // layer_types names "sliding_attention"). Per-layer windows are not implemented; the usual Qwen3 config has none.
            if (UseSlidingWindow == true)
            {
                problems.Add($"use_sliding_window true (sliding_window {SlidingWindow?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}) is not implemented for qwen3 (false is)");
            }

            if (LayerTypes?.FirstOrDefault(type => type != "full_attention") is { } layerType)
            {
                problems.Add($"layer_types entry '{layerType}' is not implemented for qwen3 (only full_attention is)");
            }
        }

        // Mixture-of-experts configs (Mixtral's num_local_experts, Qwen MoE's num_experts) have expert MLPs this dense model lacks.
        if (NumLocalExperts is > 1 || NumExperts is > 1)
        {
            problems.Add($"num_local_experts {NumLocalExperts?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}, num_experts {NumExperts?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}: mixture-of-experts layers are not implemented (dense MLPs are)");
        }

        if (RopeParameters is { ValueKind: not JsonValueKind.Null } parameters)
        {
            // transformers 5 moves rope_theta and rope_scaling into rope_parameters; reading only the old keys would
            // silently rotate with the default theta.
            problems.Add($"rope_parameters {parameters.GetRawText()} is not read (give rope_theta and rope_scaling as transformers 4 writes them)");
        }

        if (ModelType != "phi3")
        {
            try { ParsedRopeScaling(); }
            catch (NotSupportedException e) { problems.Add(e.Message); }
        }

        return problems;
    }
}
