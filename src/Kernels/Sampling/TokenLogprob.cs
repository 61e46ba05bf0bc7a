namespace InferServer.Kernels.Sampling;

/// <summary>A token id and its log-probability under the raw model distribution.</summary>
public sealed record TokenLogprob(int TokenId, float Logprob);
