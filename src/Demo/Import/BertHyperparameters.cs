namespace InferServer.Demo.Import;

/// <summary>The config.json values of an imported BERT encoder.</summary>
public sealed record BertHyperparameters(
    int VocabSize, int HiddenSize, int NumHiddenLayers, int NumAttentionHeads, int IntermediateSize,
    int MaxPositionEmbeddings, int TypeVocabSize, double LayerNormEps);
