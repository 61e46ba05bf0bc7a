using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Llama;

/// <summary>One layer of <see cref="LlamaModel"/>'s stack: Llama's split projections or Phi-3's fused ones.</summary>
internal interface IDecoderLayer
{
    /// <summary>h [rows, hidden] → [rows, hidden]; writes this layer's keys and values into the cache.</summary>
    Tensor Forward(Tensor h, Tensor cos, Tensor sin, Tensor cacheKeys, Tensor cacheValues, AttentionBatch attention, LoraBatch? lora);
}
