using InferServer.Api.V1;
using InferServer.Server.Engine;

namespace InferServer.Server.Api;

/// <summary>Classification requests and results between proto and engine types.</summary>
public static class ClassificationMapper
{
    /// <summary>The engine request, after checking the text count and lengths.</summary>
    public static ClassificationRequest ToDomain(ClassifyRequest request, ApiOptions limits, DateTimeOffset? deadline)
    {
        var violations = new List<FieldViolation>();
        if (request.Texts.Count == 0) violations.Add(new("texts", "must not be empty"));
        if (request.Texts.Count > limits.MaxClassifyTexts)
            violations.Add(new("texts", $"{request.Texts.Count} texts exceed the limit of {limits.MaxClassifyTexts}"));
        for (var i = 0; i < request.Texts.Count; i++)
        {
            if (request.Texts[i].Length > limits.MaxPromptChars)
                violations.Add(new($"texts[{i}]", $"{request.Texts[i].Length} characters exceed the limit of {limits.MaxPromptChars}"));
        }
        RpcErrors.ThrowIfAny(violations);
        return new ClassificationRequest(request.Adapter, [.. request.Texts], deadline);
    }

    public static ClassifyResponse ToProto(ClassificationResult result)
    {
        var response = new ClassifyResponse { ServedFrom = GenerationMapper.ToProto(result.ServedFrom) };
        foreach (var text in result.Results)
        {
            var classification = new Classification { PromptTokens = text.PromptTokens };
            classification.Scores.AddRange(text.Scores.Select(score =>
                new InferServer.Api.V1.LabelScore { Label = score.Label, Index = score.Index, Score = score.Score }));
            response.Results.Add(classification);
        }
        return response;
    }
}
