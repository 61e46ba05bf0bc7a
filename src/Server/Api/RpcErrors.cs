using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace InferServer.Server.Api;

/// <summary>
/// The statuses the API sends, built in one place. INVALID_ARGUMENT carries a google.rpc.BadRequest listing every
/// field violation (clients read it with <c>RpcException.GetRpcStatus()</c>); FAILED_PRECONDITION carries a
/// PreconditionFailure per problem; RESOURCE_EXHAUSTED a RetryInfo. Every message and list is bounded (<see cref="ErrorBounds"/>).
/// </summary>
public static class RpcErrors
{
    /// <summary>How long a client should wait before retrying a refused (queue full) request.</summary>
    public static readonly TimeSpan QueueFullRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>INVALID_ARGUMENT naming every bad field.</summary>
    public static RpcException InvalidArgument(IReadOnlyList<FieldViolation> violations)
    {
        violations = ErrorBounds.Violations(violations);
        var badRequest = new BadRequest();
        badRequest.FieldViolations.AddRange(violations.Select(violation =>
            new BadRequest.Types.FieldViolation { Field = violation.Field, Description = violation.Problem }));
        return new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = ErrorBounds.Text(string.Join("; ", violations.Select(violation => violation.Field.Length > 0 ? $"{violation.Field}: {violation.Problem}" : violation.Problem))),
            Details = { Any.Pack(badRequest) },
        }.ToRpcException();
    }

    /// <summary>FAILED_PRECONDITION with one violation per problem, all listed in the message too.</summary>
    public static RpcException FailedPrecondition(string message, string subject, IReadOnlyList<string> problems)
    {
        problems = ErrorBounds.Problems(problems);
        var failure = new PreconditionFailure();
        failure.Violations.AddRange(problems.Select(problem =>
            new PreconditionFailure.Types.Violation { Type = "INVALID", Subject = subject, Description = problem }));
        return new Google.Rpc.Status
        {
            Code = (int)Code.FailedPrecondition,
            Message = ErrorBounds.Text(message),
            Details = { Any.Pack(failure) },
        }.ToRpcException();
    }

    /// <summary>RESOURCE_EXHAUSTED with a retry hint.</summary>
    public static RpcException ResourceExhausted(string message) => new Google.Rpc.Status
    {
        Code = (int)Code.ResourceExhausted,
        Message = ErrorBounds.Text(message),
        Details = { Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(QueueFullRetryDelay) }) },
    }.ToRpcException();

    /// <summary>A plain status.</summary>
    public static RpcException Plain(StatusCode code, string message) => new(new Grpc.Core.Status(code, ErrorBounds.Text(message)));
}
