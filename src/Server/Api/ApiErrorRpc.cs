using Grpc.Core;

namespace InferServer.Server.Api;

/// <summary>An <see cref="ApiError"/> as the gRPC status <see cref="RpcErrors"/> builds for its code.</summary>
public static class ApiErrorRpc
{
    public static RpcException ToRpcException(this ApiError error) => error.Code switch
    {
        StatusCode.InvalidArgument when error.Violations.Count > 0 => RpcErrors.InvalidArgument(error.Violations),
        StatusCode.FailedPrecondition when error is { Subject: { } subject, Problems: { Count: > 0 } problems } =>
            RpcErrors.FailedPrecondition(error.Message, subject, problems),
        StatusCode.ResourceExhausted => RpcErrors.ResourceExhausted(error.Message),
        _ => RpcErrors.Plain(error.Code, error.Message),
    };
}
