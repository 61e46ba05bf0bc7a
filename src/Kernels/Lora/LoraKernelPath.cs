namespace InferServer.Kernels.Lora;

/// <summary>The two ways <see cref="LoraOps.AddDelta(TorchSharp.torch.Tensor, TorchSharp.torch.Tensor, LoraSlotPool, LoraBatch)"/> can run.</summary>
internal enum LoraKernelPath
{
    /// <summary>Punica BGMV: gather each row's A and B by slot, then two batched matmuls over all adapted rows at once.</summary>
    Gathered,

    /// <summary>Punica SGMV / S-LoRA: one pair of matmuls per distinct slot over that slot's rows, at the slot's real rank.</summary>
    Grouped,
}
