namespace InferServer.AdapterStore.Peft;

/// <summary>
/// What an adapter is checked against, supplied by the server's model so that this project does not depend on it:
/// the model type (<c>llama</c>, <c>gpt2</c>, <c>bert</c>), every linear module a LoRA may target keyed by its path in
/// the base model (<c>model.layers.0.self_attn.q_proj</c>, also <c>lm_head</c> and BERT's <c>bert.pooler.dense</c>), the
/// layer count, the hidden size and the classifier head.
/// </summary>
public sealed record BaseModelSpec(
    string ModelType,
    IReadOnlyDictionary<string, LinearModuleShape> Modules,
    int NumLayers,
    int HiddenSize,
    ClassifierSpec? Classifier = null)
{
    /// <summary>
    /// The output head (<c>lm_head</c>) when the model has one: adaptable when an adapter names it, but left out of
    /// PEFT's <c>all-linear</c>, which drops <c>get_output_embeddings()</c>.
    /// </summary>
    public string? OutputHead { get; init; }

    /// <summary>
    /// The frozen weight W0 [out, in] of a module in <see cref="Modules"/>, read (never written) when a DoRA adapter loads to
    /// compute <c>‖W0 + s·B·A‖</c> once. Null where no weights are at hand; DoRA adapters are then refused.
    /// </summary>
    public Func<string, TorchSharp.torch.Tensor>? BaseWeights { get; init; }

    /// <summary>
    /// The modules of <see cref="Modules"/> that are embeddings (token, position, token-type), described as a layer on one-hot
    /// inputs: in = entries, out = dimension, as PEFT's <c>lora_embedding_A</c> [r, entries] and <c>_B</c> [dimension, r] fit.
    /// </summary>
    public IReadOnlySet<string> Embeddings { get; init; } = new HashSet<string>();

    /// <summary>Whether PEFT would adapt <paramref name="module"/> of this model for <paramref name="config"/>.</summary>
    public bool Targets(PeftLoraConfig config, string module)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Targets(module, isLinear: !Embeddings.Contains(module), OutputHead);
    }

    /// <summary>Every module PEFT would adapt for <paramref name="config"/> among <see cref="Modules"/>, in path order.</summary>
    public IReadOnlyList<string> TargetedModules(PeftLoraConfig config) =>
        [.. Modules.Keys.Where(module => Targets(config, module)).Order(StringComparer.Ordinal)];
}
