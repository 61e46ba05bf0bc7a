using Grpc.Core;
using Grpc.Core.Interceptors;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.Server.Engine;
using InferServer.Server.Observability;

namespace InferServer.Server.Api;

/// <summary>
/// The one place where exceptions become gRPC statuses, for unary and server-streaming handlers alike (grpc-dotnet
/// would turn them into UNKNOWN and, in Development, leak the message). It also counts every RPC of the InferServer
/// services by adapter, rpc and status. Unknown exceptions are logged and answered INTERNAL without details.
/// </summary>
public sealed partial class ExceptionInterceptor(
    ILogger<ExceptionInterceptor> logger, InferServerMetrics metrics, AdapterLabels adapterLabels, TimeProvider timeProvider)
    : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            var response = await continuation(request, context);
            Count(request, context, StatusCode.OK);
            return response;
        }
        catch (Exception exception)
        {
            var rpcException = ToRpcException(exception, context);
            Count(request, context, rpcException.StatusCode);
            throw rpcException;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
            Count(request, context, StatusCode.OK);
        }
        catch (Exception exception)
        {
            var rpcException = ToRpcException(exception, context);
            Count(request, context, rpcException.StatusCode);
            throw rpcException;
        }
    }

    /// <summary>The status for <paramref name="exception"/> (public for the tests of the mapping table).</summary>
    public RpcException ToRpcException(Exception exception, ServerCallContext context)
    {
        switch (exception)
        {
            case RpcException rpc:
                return rpc;
            case RequestValidationException invalid:
                return RpcErrors.InvalidArgument([new FieldViolation(invalid.Field, invalid.Problem)]);
            case AdapterNotFoundException notFound:
                return RpcErrors.Plain(StatusCode.NotFound, notFound.Message);
            case InvalidAdapterNameException badName:
                return RpcErrors.InvalidArgument([new FieldViolation(AdapterField(context), badName.Message)]);
            case AdapterPathException badPath:
                // The roots are a security boundary: a path outside them is refused, not "malformed".
                return RpcErrors.Plain(StatusCode.PermissionDenied, badPath.Message);
            case InvalidAdapterException invalidAdapter:
                return RpcErrors.FailedPrecondition(invalidAdapter.Message, invalidAdapter.AdapterName, invalidAdapter.Problems);
            case AdapterConflictException conflict:
                return RpcErrors.Plain(StatusCode.AlreadyExists, conflict.Message);
            case QueueFullException queueFull:
                return RpcErrors.ResourceExhausted(queueFull.Message);
            case DeadlineExceededException deadline:
                return RpcErrors.Plain(StatusCode.DeadlineExceeded, deadline.Message);
            case EngineStoppedException stopped:
                return RpcErrors.Plain(StatusCode.Unavailable, stopped.Message);
            case ModelCapabilityException capability:
                return RpcErrors.Plain(StatusCode.FailedPrecondition, capability.Message);
            case OperationCanceledException when DeadlinePassed(context):
                return RpcErrors.Plain(StatusCode.DeadlineExceeded, "deadline exceeded");
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
                return RpcErrors.Plain(StatusCode.Cancelled, "call cancelled by the client");
            default:
                Log.UnhandledException(logger, context.Method, exception);
                return RpcErrors.Plain(StatusCode.Internal, "internal error; the server log has the details");
        }
    }

    private bool DeadlinePassed(ServerCallContext context) =>
        context.Deadline != DateTime.MaxValue && context.Deadline <= timeProvider.GetUtcNow().UtcDateTime;

    private static string AdapterField(ServerCallContext context) =>
        context.Method.Contains("/inferserver.v1.Admin/", StringComparison.Ordinal) ? "name" : "adapter";

    private void Count<TRequest>(TRequest request, ServerCallContext context, StatusCode status)
    {
        // Health and reflection calls pass through too; only the InferServer services are counted.
        if (!context.Method.StartsWith("/inferserver.", StringComparison.Ordinal)) return;
        var adapter = (request as IAdapterScoped)?.Adapter;
        var label = adapterLabels.For(adapter, succeeded: status == StatusCode.OK);
        metrics.RequestCompleted(label, context.Method[1..], status.ToString());
        if (status is not (StatusCode.OK or StatusCode.Internal))
            Log.RequestFailed(logger, context.Method, adapter ?? "", status);
    }
}
