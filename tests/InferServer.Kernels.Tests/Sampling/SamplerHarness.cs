using InferServer.Kernels.Sampling;
using TorchSharp;

namespace InferServer.Kernels.Tests.Sampling;

/// <summary>Builds logits tensors and rows for the sampler tests, and the float64 reference log-softmax.</summary>
internal static class SamplerHarness
{
    public static SamplingRow Row(SamplingParameters parameters, ulong seed = 1, int[]? prompt = null, int[]? generated = null)
    {
        var history = new TokenHistory(prompt ?? []);
        foreach (var tokenId in generated ?? [])
            history.Append(tokenId);
        return new SamplingRow(parameters, history, new SequenceRandom(seed));
    }

    /// <summary>Samples one row alone.</summary>
    public static SampledToken SampleOne(float[] logits, SamplingRow row, int? allowedVocabulary = null)
    {
        using var scope = torch.NewDisposeScope();
        var tensor = torch.tensor(logits).reshape(1, logits.Length);
        return Sampler.Sample(tensor, [row], allowedVocabulary)[0];
    }

    /// <summary>The greedy choice after penalties: the way to observe penalised logits from outside.</summary>
    public static int GreedyAfterPenalties(float[] logits, SamplingParameters penalties, int[] prompt, int[] generated) =>
        SampleOne(logits, Row(penalties with { Temperature = 0 }, prompt: prompt, generated: generated)).TokenId;

    /// <summary>Token ids drawn by one fresh row per seed 1..draws, each taking its first draw.</summary>
    public static HashSet<int> DistinctDraws(float[] logits, SamplingParameters parameters, int draws)
    {
        var rows = Enumerable.Range(1, draws).Select(seed => Row(parameters, (ulong)seed)).ToArray();
        using var scope = torch.NewDisposeScope();
        var batch = torch.tensor(logits).reshape(1, logits.Length).expand(draws, logits.Length).contiguous();
        return Sampler.Sample(batch, rows).Select(token => token.TokenId).ToHashSet();
    }

    /// <summary>Reference: log-softmax in float64 on the host, over the first <paramref name="vocabulary"/> ids.</summary>
    public static double[] LogSoftmax(float[] logits, int vocabulary)
    {
        var max = logits.Take(vocabulary).Max();
        var logSum = Math.Log(logits.Take(vocabulary).Sum(logit => Math.Exp(logit - max))) + max;
        return logits.Take(vocabulary).Select(logit => logit - logSum).ToArray();
    }

    public static float[] Log(params double[] probabilities) => probabilities.Select(p => (float)Math.Log(p)).ToArray();

    public static float[] RandomLogits(Random random, int vocabulary, double scale = 3) =>
        Enumerable.Range(0, vocabulary).Select(_ => (float)(random.NextDouble() * 2 - 1) * (float)scale).ToArray();
}
