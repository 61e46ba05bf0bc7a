using Grpc.Core;

namespace InferServer.Server.Api;

/// <summary>
/// A failure as both front doors report it, in the gRPC canonical-code vocabulary (which Google's API design guide
/// also maps to HTTP): the gRPC interceptor turns it into a status with rich details, the OpenAI-compatible HTTP API
/// into a status code and OpenAI's error body.
/// </summary>
/// <param name="Code">The canonical code.</param>
/// <param name="Message">Safe to show the client.</param>
/// <param name="Violations">Bad request fields (INVALID_ARGUMENT), first the one to name in OpenAI's <c>param</c>.</param>
/// <param name="Subject">What a FAILED_PRECONDITION is about (an adapter name), with its <paramref name="Problems"/>.</param>
/// <param name="Problems">The problems found, for FAILED_PRECONDITION.</param>
/// <remarks>Message, violations and problems are bounded at construction (<see cref="ErrorBounds"/>), whichever door sends them.</remarks>
public sealed record ApiError(
    StatusCode Code,
    string Message,
    IReadOnlyList<FieldViolation> Violations,
    string? Subject = null,
    IReadOnlyList<string>? Problems = null)
{
    public string Message { get; init; } = ErrorBounds.Text(Message);

    public IReadOnlyList<FieldViolation> Violations { get; init; } = ErrorBounds.Violations(Violations);

    public IReadOnlyList<string>? Problems { get; init; } = Problems is null ? null : ErrorBounds.Problems(Problems);

    /// <summary>A plain error without field or precondition details.</summary>
    public static ApiError Plain(StatusCode code, string message) => new(code, message, []);
}
