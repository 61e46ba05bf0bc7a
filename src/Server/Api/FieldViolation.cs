namespace InferServer.Server.Api;

/// <summary>One bad request field, named by the API's own path (the proto's spelling, e.g. "params.sampling.top_p",
/// "messages[2].role", "texts[1]"); each front door spells it as its body does (the OpenAI port: OpenAiFieldNames).</summary>
public sealed record FieldViolation(string Field, string Problem);
