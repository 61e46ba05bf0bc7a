namespace InferServer.Demo.Import;

/// <summary>A BERT encoder read from ONNX: its weights under Hugging Face names, in graph order, and its config values.</summary>
public sealed record ImportedBert(IReadOnlyList<ImportedTensor> Tensors, BertHyperparameters Hyperparameters);
