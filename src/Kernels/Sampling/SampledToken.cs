namespace InferServer.Kernels.Sampling;

/// <summary>
/// One row's result for one step. <paramref name="Logprob"/> is set when the request asked for logprobs, and
/// <paramref name="TopLogprobs"/> holds the requested number of alternatives, most likely first (empty otherwise).
/// Both are under the raw model distribution; see <see cref="Sampler"/>.
/// </summary>
public sealed record SampledToken(int TokenId, float? Logprob, IReadOnlyList<TokenLogprob> TopLogprobs);
