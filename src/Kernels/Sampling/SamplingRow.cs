namespace InferServer.Kernels.Sampling;

/// <summary>Everything the sampler needs to know about one running request besides its logits row.</summary>
public sealed record SamplingRow(SamplingParameters Parameters, TokenHistory History, SequenceRandom Random);
