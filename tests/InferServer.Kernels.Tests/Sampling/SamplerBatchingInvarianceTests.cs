using InferServer.Kernels.Sampling;
using TorchSharp;
using static InferServer.Kernels.Tests.Sampling.SamplerHarness;

namespace InferServer.Kernels.Tests.Sampling;

/// <summary>
/// The sampler's core promise: a row's token and logprobs depend only on its own logits, parameters, history and
/// random stream, never on the other rows of the batch. Compared exactly, not with a tolerance.
/// </summary>
public sealed class SamplerBatchingInvarianceTests
{
    // Odd and long enough that libtorch splits the batch across threads and rows start at unaligned offsets.
    private const int Vocabulary = 32_003;
    private const int Steps = 6;

    public static TheoryData<string> TargetRows => [.. Targets.Keys];

    private static readonly Dictionary<string, SamplingParameters> Targets = new()
    {
        ["greedy with penalties"] = new() { Temperature = 0, RepetitionPenalty = 1.3, PresencePenalty = 0.5, Logprobs = true, TopLogprobs = 3 },
        ["plain temperature"] = new() { Temperature = 0.8, Logprobs = true },
        ["all filters"] = new() { Temperature = 1.2, TopK = 50, TopP = 0.9, MinP = 0.05, FrequencyPenalty = 0.4, Logprobs = true, TopLogprobs = 5 },
        ["top-p only"] = new() { TopP = 0.5, RepetitionPenalty = 0.8, Logprobs = true, TopLogprobs = 20 },
    };

    [Theory]
    [MemberData(nameof(TargetRows))]
    public void RowSampledAmong31Others_GetsItsSoloTokensAndLogprobs(string target)
    {
        var random = new Random(target.Length);
        var targetLogits = RandomLogits(random, Vocabulary);
        var others = Enumerable.Range(0, 31).Select(i => (Logits: RandomLogits(random, Vocabulary), Parameters: OtherParameters(i))).ToArray();
        var position = random.Next(32);

        var solo = Run([(targetLogits, Targets[target])], targetIndex: 0);
        var batched = Run([.. others.Take(position), (targetLogits, Targets[target]), .. others.Skip(position)], targetIndex: position);

        for (var step = 0; step < Steps; step++)
        {
            Assert.Equal(solo[step].TokenId, batched[step].TokenId);
            Assert.Equal(solo[step].Logprob, batched[step].Logprob);
            Assert.Equal(solo[step].TopLogprobs, batched[step].TopLogprobs);
        }
    }

    /// <summary>Runs <see cref="Steps"/> steps, each row appending what it drew, and returns the target row's results.</summary>
    private static SampledToken[] Run((float[] Logits, SamplingParameters Parameters)[] batch, int targetIndex)
    {
        var rows = batch.Select((entry, i) => Row(entry.Parameters, seed: (ulong)(i == targetIndex ? 99 : 1000 + i), prompt: [1, 2, 3, 5, 8])).ToArray();
        var results = new SampledToken[Steps];
        for (var step = 0; step < Steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            var logits = torch.stack(batch.Select(entry => torch.tensor(entry.Logits)).ToArray());
            var tokens = Sampler.Sample(logits, rows, allowedVocabulary: Vocabulary - 3);
            for (var i = 0; i < rows.Length; i++)
                rows[i].History.Append(tokens[i].TokenId);
            results[step] = tokens[targetIndex];
        }
        return results;
    }

    private static SamplingParameters OtherParameters(int i) => (i % 6) switch
    {
        0 => new() { Temperature = 0 },
        1 => new() { Temperature = 0.5, TopK = 1 + i, Logprobs = true, TopLogprobs = i % 21 },
        2 => new() { Temperature = 1.5, TopP = 0.3 + i / 100.0, RepetitionPenalty = 1.1 },
        3 => new() { MinP = 0.1, FrequencyPenalty = -1, PresencePenalty = 1, Logprobs = true },
        4 => new() { Temperature = 2, TopK = 3, TopP = 0.99, MinP = 0.5, Logprobs = true, TopLogprobs = 3 },
        _ => new() { Temperature = 0, RepetitionPenalty = 2, Logprobs = true, TopLogprobs = 5 },
    };
}
