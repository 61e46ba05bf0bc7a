using System.Text.Json;

namespace InferServer.Server.Api.OpenAi;

/// <summary>Serializer settings of the OpenAI-compatible API: snake_case names, nulls written (OpenAI sends them).</summary>
public static class OpenAiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };
}
