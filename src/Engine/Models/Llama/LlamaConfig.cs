using System.Text.Json;
using System.Text.Json.Serialization;
using InferServer.Kernels.Rotary;

namespace InferServer.Engine.Models.Llama;

/// <summary>
/// config.json of LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM: one architecture with a few switches.
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
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("mlp_bias")] public bool MlpBias { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool? TieWordEmbeddings { get; init; }
    [JsonPropertyName("sliding_window")] public int? SlidingWindow { get; init; }
    [JsonPropertyName("use_sliding_window")] public bool? UseSlidingWindow { get; init; }

    /// <summary>Qwen2 puts biases on q, k and v (not o) whatever attention_bias says; Llama's attention_bias covers all four.</summary>
    public bool QkvBias => ModelType == "qwen2" || AttentionBias;

    /// <summary>Bias on o_proj.</summary>
    public bool OutputBias => ModelType != "qwen2" && AttentionBias;

    /// <summary>Key/value heads (grouped-query attention when fewer than query heads).</summary>
    public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;

    /// <summary>Per-head width.</summary>
    public int HeadDimension => HeadDim ?? HiddenSize / NumAttentionHeads;

    /// <summary>Untied by default for Llama and Mistral; transformers' Qwen2 config also defaults to false.</summary>
    public bool TiedEmbeddings => TieWordEmbeddings ?? false;

    /// <summary>The window attention is limited to: Mistral's sliding_window; Qwen2's only when use_sliding_window.</summary>
    public int? EffectiveSlidingWindow => ModelType switch
    {
        "mistral" => SlidingWindow,
        "qwen2" => UseSlidingWindow == true ? SlidingWindow : null,
        _ => null,
    };

    /// <summary>Parsed rope_scaling, or null for plain RoPE.</summary>
    public RopeScaling? ParsedRopeScaling()
    {
        if (RopeScaling is not { ValueKind: JsonValueKind.Object } scaling)
        {
            return null;
        }

        var type = scaling.TryGetProperty("rope_type", out var t) ? t.GetString()
                 : scaling.TryGetProperty("type", out var legacy) ? legacy.GetString() : null;
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

    /// <summary>Every setting we cannot honour, named with its value.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (VocabSize <= 0 || HiddenSize <= 0 || IntermediateSize <= 0 || NumHiddenLayers <= 0 || NumAttentionHeads <= 0)
        {
            problems.Add("vocab_size, hidden_size, intermediate_size, num_hidden_layers and num_attention_heads must be positive");
        }
        else if (HeadDim is null && HiddenSize % NumAttentionHeads != 0)
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

        if (PartialRotaryFactor is double factor && factor != 1.0)
        {
            problems.Add($"partial_rotary_factor {factor} is not implemented (1.0 is)");
        }

        try { ParsedRopeScaling(); }
        catch (NotSupportedException e) { problems.Add(e.Message); }
        return problems;
    }
}
