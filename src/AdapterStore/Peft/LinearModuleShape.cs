namespace InferServer.AdapterStore.Peft;

/// <summary>
/// A base-model linear layer as y = x·Wᵀ sees it: <see cref="InFeatures"/> → <see cref="OutFeatures"/>. GPT-2's Conv1D
/// layers are described the same way (our models store them transposed to [out, in]).
/// </summary>
public sealed record LinearModuleShape(int InFeatures, int OutFeatures);
