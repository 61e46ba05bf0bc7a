using InferServer.Kernels.Attention;
using InferServer.Kernels.Lora;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Common;

/// <summary>
/// One step of a causal language model: the new tokens of every scheduled sequence flattened into rows, their absolute
/// positions, where their keys and values go (<see cref="Attention"/>), which adapter slot each row uses
/// (<see cref="Lora"/>; null when every row runs the base or a merged weight), and which rows need logits.
/// </summary>
/// <param name="InputIds">int64 [rows].</param>
/// <param name="Positions">int64 [rows], absolute position of each token in its sequence.</param>
/// <param name="Attention">KV slots per sequence for this step.</param>
/// <param name="Lora">Adapter slot per row, or null.</param>
/// <param name="LogitRows">int64 rows whose logits are wanted (typically each sequence's last token); null = all rows.</param>
/// <param name="LogitLora">The adapter slot of each logit row, for an adapted lm_head (<see cref="LoraBatch.SelectRows"/>
/// of <see cref="Lora"/>); when null and <see cref="Lora"/> is set, the model derives it from <see cref="LogitRows"/>.</param>
public sealed record CausalBatch(Tensor InputIds, Tensor Positions, AttentionBatch Attention, LoraBatch? Lora, Tensor? LogitRows,
    LoraBatch? LogitLora = null);
