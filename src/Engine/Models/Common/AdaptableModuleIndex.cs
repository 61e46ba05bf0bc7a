using static TorchSharp.torch;

namespace InferServer.Engine.Models.Common;

/// <summary>
/// Finds every <see cref="AdaptedLinear"/> and <see cref="Embedding"/> in a model by its registered (= Hugging Face) module
/// path: what PEFT's LoRA can wrap (nn.Linear, Conv1D, nn.Embedding).
/// </summary>
internal static class AdaptableModuleIndex
{
    /// <summary>Module path → projection (an embedding's <see cref="Embedding.LoraTarget"/>), leaving out the named modules.</summary>
    public static IReadOnlyDictionary<string, AdaptedLinear> Build(nn.Module model, params string[] excluded) =>
        model.named_modules()
            .Where(m => m.module is AdaptedLinear or Embedding && !excluded.Contains(m.name))
            .ToDictionary(m => m.name, m => m.module as AdaptedLinear ?? ((Embedding)m.module).LoraTarget, StringComparer.Ordinal);

    /// <summary>The paths of the model's embeddings, which PEFT's all-linear leaves out.</summary>
    public static IReadOnlySet<string> Embeddings(nn.Module model) =>
        model.named_modules().Where(m => m.module is Embedding).Select(m => m.name).ToHashSet(StringComparer.Ordinal);
}
