using System.Text.Json.Serialization;
using InferServer.Kernels.Activations;

namespace InferServer.Engine.Models.Bert;

/// <summary>config.json of BertForSequenceClassification. Settings that change the math and are not implemented are refused.</summary>
public sealed record BertConfig
{
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "gelu";
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 512;
    [JsonPropertyName("type_vocab_size")] public int TypeVocabSize { get; init; } = 2;
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; init; } = 1e-12;
    [JsonPropertyName("position_embedding_type")] public string PositionEmbeddingType { get; init; } = "absolute";
    [JsonPropertyName("is_decoder")] public bool IsDecoder { get; init; }
    [JsonPropertyName("id2label")] public Dictionary<string, string>? Id2Label { get; init; }
    [JsonPropertyName("num_labels")] public int? NumLabels { get; init; }
    [JsonPropertyName("problem_type")] public string? ProblemType { get; init; }

    /// <summary>Label names by index: id2label, else LABEL_i for num_labels (transformers' default is 2).</summary>
    public IReadOnlyList<string> Labels => Common.ClassifierLabels.From(Id2Label, NumLabels);

    /// <summary>Every setting we cannot honour, named with its value.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (VocabSize <= 0 || HiddenSize <= 0 || NumHiddenLayers <= 0 || NumAttentionHeads <= 0 || IntermediateSize <= 0)
        {
            problems.Add("vocab_size, hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive");
        }
        else if (HiddenSize % NumAttentionHeads != 0)
        {
            problems.Add($"hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}");
        }

        if (Activation.Parse(HiddenAct) is null)
        {
            problems.Add($"hidden_act '{HiddenAct}' is not implemented");
        }

        if (PositionEmbeddingType != "absolute")
        {
            problems.Add($"position_embedding_type '{PositionEmbeddingType}' is not implemented (absolute is)");
        }

        if (IsDecoder)
        {
            problems.Add("is_decoder true is not implemented (BERT is served as an encoder)");
        }

        if (ProblemType is not (null or "single_label_classification" or "multi_label_classification"))
        {
            problems.Add($"problem_type '{ProblemType}' is not implemented (single_label_classification, multi_label_classification are)");
        }

        return problems;
    }
}
