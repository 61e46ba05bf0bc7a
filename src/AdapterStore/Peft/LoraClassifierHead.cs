using TorchSharp;

namespace InferServer.AdapterStore.Peft;

/// <summary>
/// A SEQ_CLS adapter's own classification head (PEFT modules_to_save): logits = x·Weightᵀ + Bias, Weight [labels,
/// hidden]. <see cref="Labels"/> come from the adapter's id2label when it has one, else <c>LABEL_i</c> as transformers names them.
/// </summary>
public sealed record LoraClassifierHead(torch.Tensor Weight, torch.Tensor? Bias, IReadOnlyList<string> Labels);
