using Grpc.Core;
using Grpc.Core.Interceptors;

namespace InferServer.Server.Api;

/// <summary>
/// API-key checks for the InferServer services (health and reflection stay open). Admin needs an admin key unless
/// Security:AllowUnauthenticatedAdmin is true; Inference needs an inference or admin key when any inference key is
/// configured. No key or an unknown key: UNAUTHENTICATED; an inference key on Admin: PERMISSION_DENIED. Keys are
/// compared as SHA-256 digests in constant time.
/// </summary>
/// <remarks>
/// The service is read from the endpoint the call was routed to (its <see cref="Grpc.AspNetCore.Server.GrpcMethodMetadata"/>), never from the
/// request path: ASP.NET Core routing matches paths case-insensitively, so "/INFERSERVER.V1.ADMIN/ListAdapters" reaches
/// the Admin service although an ordinal comparison of the path would say it is not Admin. A call without that
/// metadata (which routing never produces for our services) is treated as Admin: unknown means the strictest rule.
/// </remarks>
public sealed class ApiKeyInterceptor(ApiKeys apiKeys) : Interceptor
{
    private const string AdminService = "inferserver.v1.Admin";
    private const string InferenceService = "inferserver.v1.Inference";

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(request, responseStream, context);
    }

    // The rule itself is ApiKeys', shared with the OpenAI-compatible HTTP API; rejections are mapped by ExceptionInterceptor.
    private void Authorize(ServerCallContext context)
    {
        var headers = context.RequestHeaders;
        var service = RoutedMethod.Service(context);
        if (service is null || string.Equals(service, AdminService, StringComparison.OrdinalIgnoreCase))
        {
            apiKeys.Authorize(ApiKeyScope.Admin, "the Admin service", headers.GetValue("authorization"), headers.GetValue("x-api-key"));
        }
        else if (string.Equals(service, InferenceService, StringComparison.OrdinalIgnoreCase))
        {
            apiKeys.Authorize(ApiKeyScope.Inference, "the Inference service", headers.GetValue("authorization"), headers.GetValue("x-api-key"));
        }
    }
}
