using InferServer.Kernels.Sampling;
using TorchSharp;
using static InferServer.Kernels.Tests.Sampling.SamplerHarness;

namespace InferServer.Kernels.Tests.Sampling;

[Collection(TensorCountingCollection.Name)]
public sealed class SamplerLeakTests
{
    [Fact]
    public void TwoHundredCalls_LeaveNoTensorBehind()
    {
        // Every code path: penalties (the scatter copy), greedy, filtered sampling, logprobs with alternatives, a padded vocabulary.
        SamplingRow[] rows =
        [
            Row(new SamplingParameters { Temperature = 0, RepetitionPenalty = 1.2 }, prompt: [1, 2]),
            Row(new SamplingParameters { TopK = 5, TopP = 0.9, MinP = 0.1, PresencePenalty = 0.5, Logprobs = true, TopLogprobs = 4 }),
            Row(new SamplingParameters { Logprobs = true }),
        ];
        var logits = torch.randn(3, 64, generator: new torch.Generator(5));
        Sampler.Sample(logits, rows, allowedVocabulary: 60);
        var before = LiveTensors.Settled();

        for (var call = 0; call < 200; call++)
        {
            var tokens = Sampler.Sample(logits, rows, allowedVocabulary: 60);
            for (var i = 0; i < rows.Length; i++)
                rows[i].History.Append(tokens[i].TokenId);
        }

        Assert.Equal(before, LiveTensors.Now);
        logits.Dispose();
    }
}
