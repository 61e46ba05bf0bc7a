using InferServer.Kernels.Attention;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models;

/// <summary>A decoder-only language model the engine can step: Llama family or GPT-2.</summary>
public interface ICausalLanguageModel : IBaseModel
{
    /// <summary>Shape facts the engine needs to size the KV cache and check requests.</summary>
    CausalModelShape Shape { get; }

    /// <summary>Runs one step; returns logits [logit rows, vocabulary] in the model's dtype.</summary>
    Tensor Forward(CausalBatch batch, KvCache cache);
}

/// <summary>
/// KV-cache geometry and limits of a causal model; <paramref name="SlidingWindow"/> limits attention (Mistral).
/// <paramref name="PromptDependentRotary"/>: a position's keys depend on its sequence's prompt length as well as on the
/// tokens before it (LongRoPE's short or long factors), so cached KV blocks cannot be shared by prefix alone.
/// </summary>
public sealed record CausalModelShape(int Layers, int KvHeads, int HeadDimension, int VocabularySize, int MaxPositions, int? SlidingWindow = null,
    bool PromptDependentRotary = false);
