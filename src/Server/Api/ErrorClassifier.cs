using Grpc.Core;
using InferServer.AdapterStore;
using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Peft;
using InferServer.Engine;

namespace InferServer.Server.Api;

/// <summary>
/// The one table from domain exceptions to <see cref="ApiError"/>s, shared by the gRPC <see cref="ExceptionInterceptor"/>
/// and the OpenAI-compatible HTTP API, so a failure has the same meaning at both front doors.
/// </summary>
public static class ErrorClassifier
{
    /// <summary>The message of an unexpected exception; its details go to the server log only.</summary>
    public const string InternalMessage = "internal error; the server log has the details";

    /// <summary>How the Admin API names the adapter field; only its callers are shown server paths.</summary>
    public const string AdminAdapterField = "name";

    /// <summary>
    /// Classifies <paramref name="exception"/>; <see cref="StatusCode.Internal"/> means unexpected (the caller logs it).
    /// </summary>
    /// <param name="exception">What was thrown.</param>
    /// <param name="adapterField">How the calling API names the adapter field ("adapter", "name", "model").</param>
    /// <param name="deadlinePassed">The call's deadline has passed (an OperationCanceledException is then a timeout).</param>
    /// <param name="callCancelled">The client went away (an OperationCanceledException is then a cancellation).</param>
    public static ApiError Classify(Exception exception, string adapterField, bool deadlinePassed, bool callCancelled) => exception switch
    {
        InvalidRequestException invalid => new(StatusCode.InvalidArgument, invalid.Message, invalid.Violations),
        RequestValidationException invalid => new(StatusCode.InvalidArgument, invalid.Message, [new FieldViolation(invalid.Field, invalid.Problem)]),
        AdapterNotFoundException notFound => new(StatusCode.NotFound, notFound.Message, [new FieldViolation(adapterField, notFound.Message)]),
        InvalidAdapterNameException badName => new(StatusCode.InvalidArgument, badName.Message, [new FieldViolation(adapterField, badName.Message)]),
        // The roots are a security boundary: a path outside them is refused, not "malformed". Only admin callers, who
        // name paths themselves, are told which; inference callers never see server paths.
        AdapterPathException badPath => ApiError.Plain(StatusCode.PermissionDenied,
            adapterField == AdminAdapterField ? badPath.Message : "the adapter's directory is outside the allowed adapter roots"),
        InvalidAdapterException invalidAdapter => new(
            StatusCode.FailedPrecondition, invalidAdapter.ClientMessage, [], invalidAdapter.AdapterName, invalidAdapter.Problems),
        AdapterLoadTimeoutException timeout => ApiError.Plain(StatusCode.Unavailable, timeout.Message),
        AdapterConflictException conflict => ApiError.Plain(StatusCode.AlreadyExists, conflict.Message),
        QueueFullException queueFull => ApiError.Plain(StatusCode.ResourceExhausted, queueFull.Message),
        DeadlineExceededException deadline => ApiError.Plain(StatusCode.DeadlineExceeded, deadline.Message),
        EngineStoppedException stopped => ApiError.Plain(StatusCode.Unavailable, stopped.Message),
        ModelCapabilityException capability => ApiError.Plain(StatusCode.FailedPrecondition, capability.Message),
        NonFiniteOutputException nonFinite => ApiError.Plain(StatusCode.FailedPrecondition, nonFinite.Message),
        ApiKeyRejectedException rejected => ApiError.Plain(
            rejected.KeyRecognised ? StatusCode.PermissionDenied : StatusCode.Unauthenticated, rejected.Message),
        ClientGoneException => ApiError.Plain(StatusCode.Cancelled, "call cancelled by the client"),
        OperationCanceledException when deadlinePassed => ApiError.Plain(StatusCode.DeadlineExceeded, "deadline exceeded"),
        OperationCanceledException when callCancelled => ApiError.Plain(StatusCode.Cancelled, "call cancelled by the client"),
        _ => ApiError.Plain(StatusCode.Internal, InternalMessage),
    };
}
