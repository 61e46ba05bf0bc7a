using InferServer.AdapterStore.Peft;

namespace InferServer.Engine.Models;

/// <summary>Describes a loaded model to the adapter loader, which does not depend on the server's model types.</summary>
internal static class BaseModelSpecs
{
    /// <summary>
    /// Module path → (in, out) of every adaptable projection, layer count and hidden size; for a sequence classifier also
    /// its head (BERT's "classifier" with a bias, a decoder's "score" without, reading the pooled hidden state), which SEQ_CLS adapters may replace.
    /// </summary>
    public static BaseModelSpec From(IBaseModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var modules = model.AdaptableModules.ToDictionary(
            m => m.Key, m => new LinearModuleShape(checked((int)m.Value.InFeatures), checked((int)m.Value.OutFeatures)), StringComparer.Ordinal);
        var classifier = model is ISequenceClassifier head ? new ClassifierSpec(model.HiddenSize, head.ClassifierHasBias, head.ClassifierModule) : null;
        return new BaseModelSpec(model.ModelType, modules, model.LayerCount, model.HiddenSize, classifier)
        {
            OutputHead = modules.ContainsKey("lm_head") ? "lm_head" : null,
            Embeddings = model.AdaptableModules.Where(m => m.Value.IsEmbedding).Select(m => m.Key).ToHashSet(StringComparer.Ordinal),
            // Read by the adapter loader for DoRA norms, never written; W0 stays [out, in] whatever the checkpoint used.
            BaseWeights = module => model.AdaptableModules[module].Weight,
        };
    }
}
