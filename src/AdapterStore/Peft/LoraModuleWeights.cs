using TorchSharp;

namespace InferServer.AdapterStore.Peft;

/// <summary>
/// One adapted linear module: y += <see cref="Scale"/>·(x·Aᵀ)·Bᵀ with A [rank, in] and B [out, rank]. The scale is
/// kept separate (not folded into B) so that the kernel owns where it is applied. Owned by its <see cref="LoraAdapter"/>.
/// </summary>
public sealed record LoraModuleWeights(string Module, torch.Tensor A, torch.Tensor B, int Rank, double Scale);
