namespace InferServer.AdapterStore.Peft;

/// <summary>
/// What an adapter is checked against, supplied by the server's model so that this project does not depend on it:
/// the model type (<c>llama</c>, <c>gpt2</c>, <c>bert</c>), every linear module a LoRA may target keyed by its path in
/// the base model (<c>model.layers.0.self_attn.q_proj</c>), the layer count, the hidden size and the classifier head.
/// Output heads (lm_head) and embeddings are not listed: adapters on them are refused.
/// </summary>
public sealed record BaseModelSpec(
    string ModelType,
    IReadOnlyDictionary<string, LinearModuleShape> Modules,
    int NumLayers,
    int HiddenSize,
    ClassifierSpec? Classifier = null);
