using TorchSharp;

namespace InferServer.AdapterStore.Peft;

/// <summary>
/// One adapted module: y += <see cref="Scale"/>·(x·Aᵀ)·Bᵀ with A [rank, in] and B [out, rank]. The scale is kept separate
/// (not folded into B) so that the kernel owns where it is applied. Owned by its <see cref="LoraAdapter"/>.
/// </summary>
/// <param name="Module">The module path in the base model.</param>
/// <param name="A">lora_A [rank, in] (an embedding's lora_embedding_A [rank, vocabulary]).</param>
/// <param name="B">lora_B [out, rank] (an embedding's lora_embedding_B [hidden, rank]).</param>
/// <param name="Rank">r.</param>
/// <param name="Scale">s = alpha / r, or alpha / sqrt(r) with rsLoRA.</param>
/// <param name="Dora">DoRA's magnitude and norm when the adapter uses DoRA, else null.</param>
public sealed record LoraModuleWeights(string Module, torch.Tensor A, torch.Tensor B, int Rank, double Scale, DoraMagnitude? Dora = null);
