namespace InferServer.Server.Api;

/// <summary>One bad request field, named as the proto names it (e.g. "params.sampling.top_p", "messages[2].role").</summary>
public sealed record FieldViolation(string Field, string Problem);
