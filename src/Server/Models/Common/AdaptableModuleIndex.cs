using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Server.Models.Common;

/// <summary>Finds every <see cref="AdaptedLinear"/> in a model by its registered (= Hugging Face) module path.</summary>
public static class AdaptableModuleIndex
{
    /// <summary>Module path → projection, leaving out the named output head(s), which LoRA does not target here.</summary>
    public static IReadOnlyDictionary<string, AdaptedLinear> Build(nn.Module model, params string[] excluded) =>
        model.named_modules()
            .Where(m => m.module is AdaptedLinear && !excluded.Contains(m.name))
            .ToDictionary(m => m.name, m => (AdaptedLinear)m.module, StringComparer.Ordinal);
}
