using InferServer.Kernels.Lora;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Common;

/// <summary>
/// One step of an encoder (BERT): whole sequences flattened into rows, each sequence attending only to itself.
/// </summary>
/// <param name="InputIds">int64 [rows].</param>
/// <param name="Positions">int64 [rows], position within the sequence.</param>
/// <param name="TokenTypeIds">int64 [rows] (segment ids; 0 for single-text classification).</param>
/// <param name="Sequences">Row range of each sequence, in order.</param>
/// <param name="Lora">Adapter slot per row, or null.</param>
public sealed record EncoderBatch(Tensor InputIds, Tensor Positions, Tensor TokenTypeIds,
    IReadOnlyList<(int Start, int Length)> Sequences, LoraBatch? Lora);
