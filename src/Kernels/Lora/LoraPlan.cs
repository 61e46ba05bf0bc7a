namespace InferServer.Kernels.Lora;

/// <summary>What one module call has to do: slots with a non-zero rank in this module, their rows, and the largest such rank.</summary>
internal readonly record struct LoraPlan(int ActiveSlots, int ActiveRows, int MaxRank);
