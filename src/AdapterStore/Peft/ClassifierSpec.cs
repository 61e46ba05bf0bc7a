namespace InferServer.AdapterStore.Peft;

/// <summary>
/// The base model's classification head: module <see cref="Name"/> (BERT's <c>classifier</c>, Llama's <c>score</c>)
/// reading <see cref="InFeatures"/> features. A SEQ_CLS adapter may replace it with its own head of any label count.
/// </summary>
public sealed record ClassifierSpec(int InFeatures, bool HasBias = true, string Name = "classifier");
