using InferServer.Kernels.Sampling;

namespace InferServer.Kernels.Tests.Sampling;

public sealed class SamplingParametersTests
{
    [Fact]
    public void Defaults_AreValid()
    {
        Assert.Empty(new SamplingParameters().Validate());
    }

    [Fact]
    public void BoundaryValues_AreValid()
    {
        var low = new SamplingParameters { Temperature = 0, TopK = 0, TopP = 1e-9, MinP = 0, RepetitionPenalty = 1e-9, PresencePenalty = -2, FrequencyPenalty = -2 };
        var high = new SamplingParameters { Temperature = 2, TopK = 100_000, TopP = 1, MinP = 1, RepetitionPenalty = 2, PresencePenalty = 2, FrequencyPenalty = 2, Logprobs = true, TopLogprobs = 20 };
        Assert.Empty(low.Validate());
        Assert.Empty(high.Validate());
    }

    public static TheoryData<SamplingParameters, string> BadFields => new()
    {
        { new() { Temperature = -0.1 }, "temperature" },
        { new() { Temperature = 2.01 }, "temperature" },
        { new() { Temperature = double.NaN }, "temperature" },
        { new() { TopK = -1 }, "top_k" },
        { new() { TopP = 0 }, "top_p" },
        { new() { TopP = 1.01 }, "top_p" },
        { new() { MinP = -0.01 }, "min_p" },
        { new() { MinP = 1.5 }, "min_p" },
        { new() { RepetitionPenalty = 0 }, "repetition_penalty" },
        { new() { RepetitionPenalty = 2.5 }, "repetition_penalty" },
        { new() { PresencePenalty = -2.1 }, "presence_penalty" },
        { new() { PresencePenalty = double.PositiveInfinity }, "presence_penalty" },
        { new() { FrequencyPenalty = 2.1 }, "frequency_penalty" },
        { new() { Logprobs = true, TopLogprobs = 21 }, "top_logprobs" },
        { new() { TopLogprobs = -1 }, "top_logprobs" },
        { new() { TopLogprobs = 3 }, "top_logprobs requires logprobs" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public void OutOfRangeField_IsNamedInTheOnlyError(SamplingParameters parameters, string field)
    {
        var error = Assert.Single(parameters.Validate());
        Assert.StartsWith(field, error);
    }

    [Fact]
    public void EveryBadField_IsReported()
    {
        var parameters = new SamplingParameters
        {
            Temperature = 3,
            TopK = -1,
            TopP = 0,
            MinP = 2,
            RepetitionPenalty = -1,
            PresencePenalty = 3,
            FrequencyPenalty = -3,
            TopLogprobs = 30,
        };
        var fields = parameters.Validate().Select(error => error.Split(' ')[0]).ToArray();
        Assert.Equal(["temperature", "top_k", "top_p", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty", "top_logprobs"], fields);
    }
}
