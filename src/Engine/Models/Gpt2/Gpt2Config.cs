using System.Text.Json.Serialization;
using InferServer.Kernels.Activations;

namespace InferServer.Engine.Models.Gpt2;

/// <summary>config.json of GPT2LMHeadModel. Settings that change the math and are not implemented are refused by name.</summary>
public sealed record Gpt2Config
{
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 50257;
    [JsonPropertyName("n_positions")] public int NPositions { get; init; } = 1024;
    [JsonPropertyName("n_embd")] public int NEmbd { get; init; } = 768;
    [JsonPropertyName("n_layer")] public int NLayer { get; init; } = 12;
    [JsonPropertyName("n_head")] public int NHead { get; init; } = 12;
    [JsonPropertyName("n_inner")] public int? NInner { get; init; }
    [JsonPropertyName("activation_function")] public string ActivationFunction { get; init; } = "gelu_new";
    [JsonPropertyName("layer_norm_epsilon")] public double LayerNormEpsilon { get; init; } = 1e-5;
    [JsonPropertyName("scale_attn_weights")] public bool ScaleAttnWeights { get; init; } = true;
    [JsonPropertyName("scale_attn_by_inverse_layer_idx")] public bool ScaleAttnByInverseLayerIdx { get; init; }
    [JsonPropertyName("add_cross_attention")] public bool AddCrossAttention { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; } = true;

    /// <summary>Width of the MLP's hidden layer (n_inner, default 4 · n_embd).</summary>
    public int InnerSize => NInner ?? 4 * NEmbd;

    /// <summary>Every setting we cannot honour, named with its value.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (VocabSize <= 0 || NEmbd <= 0 || NLayer <= 0 || NHead <= 0 || NPositions <= 0)
        {
            problems.Add("vocab_size, n_embd, n_layer, n_head and n_positions must be positive");
        }
        else if (NEmbd % NHead != 0)
        {
            problems.Add($"n_embd {NEmbd} is not divisible by n_head {NHead}");
        }

        if (Activation.Parse(ActivationFunction) is null)
        {
            problems.Add($"activation_function '{ActivationFunction}' is not implemented");
        }

        if (!ScaleAttnWeights)
        {
            problems.Add("scale_attn_weights false is not implemented");
        }

        if (ScaleAttnByInverseLayerIdx)
        {
            problems.Add("scale_attn_by_inverse_layer_idx true is not implemented");
        }

        if (AddCrossAttention)
        {
            problems.Add("add_cross_attention true (an encoder-decoder GPT-2) is not implemented");
        }

        if (!TieWordEmbeddings)
        {
            problems.Add("tie_word_embeddings false is not implemented for gpt2 (GPT2LMHeadModel ties its head)");
        }

        return problems;
    }
}
