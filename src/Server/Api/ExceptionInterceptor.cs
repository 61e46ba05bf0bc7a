using Grpc.Core;
using Grpc.Core.Interceptors;
using InferServer.Api.V1;
using InferServer.Server.Observability;

namespace InferServer.Server.Api;

/// <summary>
/// The one place where exceptions become gRPC statuses, for unary and server-streaming handlers alike (grpc-dotnet
/// would turn them into UNKNOWN and, in Development, leak the message). It also counts every RPC of the InferServer
/// services by adapter, rpc and status, and writes their <see cref="RequestLog"/> line. Unknown exceptions are logged and
/// answered INTERNAL without details.
/// </summary>
public sealed partial class ExceptionInterceptor(
    ILogger<ExceptionInterceptor> logger, InferServerMetrics metrics, AdapterLabels adapterLabels, TimeProvider timeProvider,
    RequestLog requestLog)
    : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var begun = timeProvider.GetTimestamp();
        try
        {
            var response = await continuation(request, context);
            Count(request, context, StatusCode.OK, begun);
            return response;
        }
        catch (Exception exception)
        {
            var rpcException = ToRpcException(exception, context);
            Count(request, context, rpcException.StatusCode, begun);
            throw rpcException;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var begun = timeProvider.GetTimestamp();
        try
        {
            await continuation(request, responseStream, context);
            Count(request, context, StatusCode.OK, begun);
        }
        catch (Exception exception)
        {
            var rpcException = ToRpcException(exception, context);
            Count(request, context, rpcException.StatusCode, begun);
            throw rpcException;
        }
    }

    /// <summary>The status for <paramref name="exception"/> (public for the tests of the mapping table, which is <see cref="ErrorClassifier"/>'s).</summary>
    public RpcException ToRpcException(Exception exception, ServerCallContext context)
    {
        if (exception is RpcException rpc)
        {
            return rpc;
        }

        var error = ErrorClassifier.Classify(
            exception, AdapterField(context), DeadlinePassed(context), context.CancellationToken.IsCancellationRequested);
        if (error.Code == StatusCode.Internal)
        {
            Log.UnhandledException(logger, RoutedMethod.FullName(context), exception);
        }

        return error.ToRpcException();
    }

    private bool DeadlinePassed(ServerCallContext context) =>
        context.Deadline != DateTime.MaxValue && context.Deadline <= timeProvider.GetUtcNow().UtcDateTime;

    private static string AdapterField(ServerCallContext context) =>
        RoutedMethod.Service(context) == "inferserver.v1.Admin" ? ErrorClassifier.AdminAdapterField : "adapter";

    private void Count<TRequest>(TRequest request, ServerCallContext context, StatusCode status, long begun)
    {
        // Health and reflection calls pass through too; only the InferServer services are counted.
        var method = RoutedMethod.FullName(context);
        if (!method.StartsWith("/inferserver.", StringComparison.Ordinal))
        {
            return;
        }

        var adapter = AdapterNamedIn(request);
        var label = adapterLabels.For(adapter, succeeded: status == StatusCode.OK);
        metrics.RequestCompleted(label, method[1..], status.ToString());
        requestLog.Completed("grpc", method[1..], adapter, status.ToString(), timeProvider.GetElapsedTime(begun));
        if (status is not (StatusCode.OK or StatusCode.Internal))
        {
            Log.RequestFailed(logger, method, adapter ?? "", status);
        }
    }

    /// <summary>The adapter a request names (admin requests call it name); null for requests that name none.</summary>
    private static string? AdapterNamedIn(object? request) => request switch
    {
        GenerateRequest generate => generate.Adapter,
        ChatRequest chat => chat.Adapter,
        ClassifyRequest classify => classify.Adapter,
        LoadAdapterRequest load => load.Name,
        UnloadAdapterRequest unload => unload.Name,
        GetAdapterRequest get => get.Name,
        _ => null,
    };
}
