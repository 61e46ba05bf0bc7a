namespace InferServer.Engine;

/// <summary>A request field that is out of range or inconsistent (gRPC INVALID_ARGUMENT, HTTP 400), naming the field.</summary>
public sealed class RequestValidationException(string field, string problem) : Exception($"{field}: {problem}")
{
    /// <summary>The offending field, as the API names it (e.g. "max_new_tokens", "sampling.top_p").</summary>
    public string Field { get; } = field;

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; } = problem;
}
