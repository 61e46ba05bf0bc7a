using InferServer.Api.V1;
using InferServer.Engine;

namespace InferServer.Server.Api;

/// <summary>Classification and embedding requests and results between proto and engine types.</summary>
public static class ClassificationMapper
{
    /// <summary>The engine request, after checking the text count and lengths.</summary>
    public static ClassificationRequest ToDomain(ClassifyRequest request, ApiOptions limits, DateTimeOffset? deadline)
    {
        InvalidRequestException.ThrowIfAny(TextViolations(request.Texts, limits));
        return new ClassificationRequest(request.Adapter, [.. request.Texts], deadline);
    }

    /// <summary>The engine request for Embed, under Classify's limits.</summary>
    public static EmbeddingRequest ToDomain(EmbedRequest request, ApiOptions limits, DateTimeOffset? deadline)
    {
        InvalidRequestException.ThrowIfAny(TextViolations(request.Texts, limits));
        return new EmbeddingRequest(request.Adapter, [.. request.Texts], request.HasNormalize ? request.Normalize : null, deadline);
    }

    /// <summary>Classify's limits on a list of texts (shared by Embed, /classify and /v1/embeddings), named "texts" as the
    /// engine names them too; the OpenAI port spells it "input".</summary>
    public static List<FieldViolation> TextViolations(IReadOnlyList<string> texts, ApiOptions limits)
    {
        const string field = "texts";
        var violations = new List<FieldViolation>();
        if (texts.Count == 0)
        {
            violations.Add(new(field, "must not be empty"));
        }

        if (texts.Count > limits.MaxClassifyTexts)
        {
            violations.Add(new(field, $"{texts.Count} texts exceed the limit of {limits.MaxClassifyTexts}"));
        }

        for (var i = 0; i < texts.Count; i++)
        {
            if (texts[i].Length > limits.MaxPromptChars)
            {
                violations.Add(new($"{field}[{i}]", $"{texts[i].Length} characters exceed the limit of {limits.MaxPromptChars}"));
            }
        }
        return violations;
    }

    /// <summary>The Embed response.</summary>
    public static EmbedResponse ToProto(EmbeddingResult result)
    {
        var response = new EmbedResponse { ServedFrom = GenerationMapper.ToProto(result.ServedFrom) };
        foreach (var text in result.Results)
        {
            var embedding = new Embedding { PromptTokens = text.PromptTokens };
            embedding.Vector.AddRange(text.Vector);
            response.Results.Add(embedding);
        }
        return response;
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
