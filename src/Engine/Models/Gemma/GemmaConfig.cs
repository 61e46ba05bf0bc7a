using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using InferServer.Kernels.Rotary;

namespace InferServer.Engine.Models.Gemma;

/// <summary>
/// config.json of Gemma2ForCausalLM (model_type gemma2) and Gemma3ForCausalLM (text-only, model_type gemma3_text), with the
/// defaults of transformers' Gemma2Config and Gemma3TextConfig where a key is missing. Keys that change the math and that
/// are not implemented are refused by <see cref="Validate"/>, by name.
/// </summary>
public sealed record GemmaConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "gemma2";
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }
    [JsonPropertyName("head_dim")] public int HeadDim { get; init; } = 256;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 8192;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("rope_theta")] public double? RopeTheta { get; init; }
    [JsonPropertyName("rope_local_base_freq")] public double RopeLocalBaseFreq { get; init; } = 10000;
    [JsonPropertyName("rope_scaling")] public JsonElement? RopeScaling { get; init; }
    [JsonPropertyName("rope_parameters")] public JsonElement? RopeParameters { get; init; }
    [JsonPropertyName("hidden_activation")] public string? HiddenActivation { get; init; }
    [JsonPropertyName("hidden_act")] public string? HiddenAct { get; init; }
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("query_pre_attn_scalar")] public double QueryPreAttnScalar { get; init; } = 256;
    [JsonPropertyName("sliding_window")] public int? SlidingWindow { get; init; } = 4096;
    [JsonPropertyName("sliding_window_pattern")] public int? SlidingWindowPattern { get; init; }
    [JsonPropertyName("layer_types")] public IReadOnlyList<string>? LayerTypes { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; } = true;
    [JsonPropertyName("use_bidirectional_attention")] public bool? UseBidirectionalAttention { get; init; }

    /// <summary>Gemma 3 (gemma3_text): q_norm/k_norm, a local RoPE base for sliding layers, no soft-capping by default.</summary>
    public bool IsGemma3 => ModelType == "gemma3_text";

    /// <summary>Key/value heads.</summary>
    public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;

    /// <summary>RoPE base of full-attention layers: rope_theta, 10000 for Gemma 2 and 1,000,000 for Gemma 3 when missing.</summary>
    public double GlobalRopeTheta => RopeTheta ?? (IsGemma3 ? 1_000_000 : 10000);

    /// <summary>
    /// attn_logit_softcapping: Gemma2Config's default is 50 and Gemma3TextConfig's none, so a missing key depends on the
    /// family and a null one means none (<see cref="Parse"/> resolves it).
    /// </summary>
    public double? AttentionSoftCap { get; private init; }

    /// <summary>final_logit_softcapping: 30 by default for Gemma 2, none for Gemma 3; null in the config means none.</summary>
    public double? FinalSoftCap { get; private init; }

    /// <summary>Whether layer <paramref name="layer"/> attends within <see cref="SlidingWindow"/> (else to the whole context).</summary>
    public bool IsSliding(int layer) => LayerTypes is { } types ? types[layer] == "sliding_attention"
        : IsGemma3 ? (layer + 1) % (SlidingWindowPattern ?? 6) != 0
        : layer % 2 == 0;

    /// <summary>The parsed config with the per-family soft-cap defaults resolved (see <see cref="AttentionSoftCap"/>).</summary>
    public static GemmaConfig Parse(string json)
    {
        var config = JsonSerializer.Deserialize<GemmaConfig>(json) ?? throw new JsonException("config.json is empty");
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        double? Given(string key, double? familyDefault) => root.TryGetProperty(key, out var value)
            ? value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null
            : familyDefault;
        return config with
        {
            AttentionSoftCap = Given("attn_logit_softcapping", config.IsGemma3 ? null : 50.0),
            FinalSoftCap = Given("final_logit_softcapping", config.IsGemma3 ? null : 30.0),
        };
    }

    /// <summary>RoPE scaling of the full-attention layers (Gemma 3 4B+: linear); sliding layers never scale.</summary>
    public RopeScaling? ParsedRopeScaling()
    {
        if (RopeScaling is not { ValueKind: JsonValueKind.Object } scaling)
        {
            return null;
        }

        var type = scaling.TryGetProperty("rope_type", out var t) ? t.GetString()
                 : scaling.TryGetProperty("type", out var legacy) ? legacy.GetString() : null;
        var factor = scaling.TryGetProperty("factor", out var f) && f.ValueKind == JsonValueKind.Number ? f.GetDouble() : 1;
        return type switch
        {
            null or "default" => null,
            "linear" => new RopeScaling("linear", factor, 1, 4, 8192),
            _ => throw new NotSupportedException($"rope_scaling type '{type}' is not implemented for {ModelType} (linear is)"),
        };
    }

    /// <summary>Every setting we cannot honour, named with its value.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (VocabSize <= 0 || HiddenSize <= 0 || IntermediateSize <= 0 || NumHiddenLayers <= 0 || NumAttentionHeads <= 0 || HeadDim <= 0)
        {
            problems.Add("vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads and head_dim must be positive");
        }

        if (NumAttentionHeads > 0 && (KeyValueHeads <= 0 || NumAttentionHeads % KeyValueHeads != 0))
        {
            problems.Add($"num_key_value_heads {KeyValueHeads} must divide num_attention_heads {NumAttentionHeads}");
        }

        // Gemma2MLP/Gemma3MLP read hidden_activation (older configs also carry hidden_act, which they ignore).
        if ((HiddenActivation ?? "gelu_pytorch_tanh") is not ("gelu_pytorch_tanh" or "gelu_tanh"))
        {
            problems.Add($"hidden_activation '{HiddenActivation}' is not implemented for {ModelType} (gelu_pytorch_tanh is)");
        }

        if (LayerTypes is { } types)
        {
            if (types.Count != NumHiddenLayers)
            {
                problems.Add($"layer_types has {types.Count} entries for {NumHiddenLayers} layers");
            }

            if (types.FirstOrDefault(type => type is not ("sliding_attention" or "full_attention")) is { } other)
            {
                problems.Add($"layer_types entry '{other}' is not implemented (sliding_attention and full_attention are)");
            }
        }

        if (SlidingWindowPattern is <= 0)
        {
            problems.Add($"sliding_window_pattern {SlidingWindowPattern} must be positive");
        }

        var layersKnown = LayerTypes is null || LayerTypes.Count == NumHiddenLayers;
        if (SlidingWindow is not > 0 && layersKnown && Enumerable.Range(0, Math.Max(NumHiddenLayers, 0)).Any(IsSliding))
        {
            problems.Add($"sliding_window {SlidingWindow?.ToString(CultureInfo.InvariantCulture) ?? "null"} must be positive for the sliding layers");
        }

        if (UseBidirectionalAttention == true)
        {
            problems.Add("use_bidirectional_attention true is not implemented (causal attention is)");
        }

        if (QueryPreAttnScalar <= 0)
        {
            problems.Add($"query_pre_attn_scalar {QueryPreAttnScalar} must be positive");
        }

        if (RopeParameters is { ValueKind: not JsonValueKind.Null } parameters)
        {
            problems.Add($"rope_parameters {parameters.GetRawText()} is not read (give rope_theta, rope_local_base_freq and rope_scaling as transformers 4 writes them)");
        }

        try { ParsedRopeScaling(); }
        catch (NotSupportedException e) { problems.Add(e.Message); }
        return problems;
    }
}
