using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models;

/// <summary>What every served base model exposes, whatever its architecture.</summary>
public interface IBaseModel : IDisposable
{
    /// <summary>config.json's model_type ("llama", "mistral", "qwen2", "gpt2", "bert").</summary>
    string ModelType { get; }

    /// <summary>Device the weights live on.</summary>
    Device Device { get; }

    /// <summary>Weights' dtype.</summary>
    ScalarType DType { get; }

    /// <summary>
    /// Every linear projection LoRA may target, by its Hugging Face module path (model.layers.0.self_attn.q_proj,
    /// transformer.h.0.attn.c_attn, bert.encoder.layer.0.attention.self.query).
    /// </summary>
    IReadOnlyDictionary<string, AdaptedLinear> AdaptableModules { get; }

    /// <summary>Number of transformer layers (for PEFT's layers_to_transform).</summary>
    int LayerCount { get; }

    /// <summary>Hidden size (for validating an adapter's classifier head).</summary>
    int HiddenSize { get; }
}
