namespace InferServer.Kernels.Lora;

/// <summary>The ways <see cref="LoraOps.AddDelta(TorchSharp.torch.Tensor, TorchSharp.torch.Tensor, LoraSlotPool, LoraBatch)"/> can run.</summary>
internal enum LoraKernelPath
{
    /// <summary>Punica BGMV: gather each row's A and B by slot, then two batched matmuls over all adapted rows at once.</summary>
    Gathered,

    /// <summary>Punica SGMV / S-LoRA: one pair of matmuls per distinct slot over that slot's rows, at the slot's real rank.</summary>
    Grouped,

    /// <summary>
    /// Slots with few rows padded into one <c>[slots, rows per slot, in]</c> stack and multiplied by the pool's A and B in place
    /// (no weight copy when those slots are nearly contiguous): two batched matmuls for all of them. Slots with more rows than
    /// <see cref="LoraStackIndex.MaxRowsPerSlot"/> take the grouped loop.
    /// </summary>
    Stacked,
}
