namespace InferServer.Kernels.Sampling;

/// <summary>
/// One request's decoding parameters. Names and ranges follow the OpenAI completions API where it defines the field
/// (temperature, top_p, presence/frequency penalties, logprobs, top_logprobs) and vLLM's <c>SamplingParams</c> for
/// the rest (top_k, min_p, repetition_penalty, seed). Defaults leave the model's distribution untouched.
/// </summary>
public sealed record SamplingParameters
{
    /// <summary>Largest number of alternatives reported per token (OpenAI's <c>top_logprobs</c> limit).</summary>
    public const int MaxTopLogprobs = 20;

    /// <summary>
    /// Logits are divided by this before filtering (HF <c>TemperatureLogitsWarper</c>). 0 means greedy: argmax, ties to
    /// the lowest id. OpenAI's range [0, 2]. Values below <see cref="Sampler.GreedyTemperature"/> are treated as greedy.
    /// </summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep only the k most probable tokens; 0 turns it off (vLLM uses -1 for off; 0 is unambiguous here).</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling (Holtzman et al. 2019): keep the smallest prefix of the sorted distribution whose mass reaches p. 1 is off.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Keep tokens with p ≥ min_p · p_max (HF <c>MinPLogitsWarper</c>, Nguyen et al. 2024). 0 is off.</summary>
    public double MinP { get; init; }

    /// <summary>
    /// CTRL's repetition penalty (Keskar et al. 2019) as HF <c>RepetitionPenaltyLogitsProcessor</c> applies it: for
    /// every token seen in the prompt or the output, a positive logit is divided by it and a negative one multiplied.
    /// 1 is off.
    /// </summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>OpenAI presence penalty: subtracted once from the logit of every token that occurs in the generated text.</summary>
    public double PresencePenalty { get; init; }

    /// <summary>OpenAI frequency penalty: subtracted from a token's logit once per occurrence in the generated text.</summary>
    public double FrequencyPenalty { get; init; }

    /// <summary>Seed of the request's <see cref="SequenceRandom"/>; null draws a random seed once per request.</summary>
    public ulong? Seed { get; init; }

    /// <summary>How many most likely alternatives to report per token, 0..<see cref="MaxTopLogprobs"/>; needs <see cref="Logprobs"/>.</summary>
    public int TopLogprobs { get; init; }

    /// <summary>Report the chosen token's log-probability under the raw model distribution.</summary>
    public bool Logprobs { get; init; }

    /// <summary>
    /// Every out-of-range field, each named by its API (snake_case) name; empty when the parameters are usable.
    /// Comparisons are written so that NaN fails them.
    /// </summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        // OpenAI: temperature in [0, 2].
        if (!(Temperature >= 0 && Temperature <= 2))
        {
            errors.Add($"temperature must be in [0, 2], got {Temperature}");
        }

        if (TopK < 0)
        {
            errors.Add($"top_k must be >= 0 (0 disables it), got {TopK}");
        }
        // OpenAI and vLLM: top_p in (0, 1]; 0 would keep nothing.
        if (!(TopP > 0 && TopP <= 1))
        {
            errors.Add($"top_p must be in (0, 1], got {TopP}");
        }
        // vLLM: min_p in [0, 1]; above 1 nothing but ties with the maximum could survive.
        if (!(MinP >= 0 && MinP <= 1))
        {
            errors.Add($"min_p must be in [0, 1], got {MinP}");
        }
        // HF and vLLM only require > 0. The upper bound 2 is ours: CTRL recommends 1.2, and beyond 2 the penalty
        // practically bans every seen token, which is more likely a mistaken value than an intent.
        if (!(RepetitionPenalty > 0 && RepetitionPenalty <= 2))
        {
            errors.Add($"repetition_penalty must be in (0, 2], got {RepetitionPenalty}");
        }
        // OpenAI: presence_penalty and frequency_penalty in [-2, 2].
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2))
        {
            errors.Add($"presence_penalty must be in [-2, 2], got {PresencePenalty}");
        }

        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2))
        {
            errors.Add($"frequency_penalty must be in [-2, 2], got {FrequencyPenalty}");
        }

        if (TopLogprobs < 0 || TopLogprobs > MaxTopLogprobs)
        {
            errors.Add($"top_logprobs must be in [0, {MaxTopLogprobs}], got {TopLogprobs}");
        }
        // OpenAI rejects top_logprobs without logprobs=true rather than silently ignoring it.
        else if (TopLogprobs > 0 && !Logprobs)
        {
            errors.Add("top_logprobs requires logprobs to be true");
        }

        return errors;
    }
}
