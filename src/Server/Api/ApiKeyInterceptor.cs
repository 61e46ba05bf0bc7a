using Grpc.Core;
using Grpc.Core.Interceptors;

namespace InferServer.Server.Api;

/// <summary>
/// API-key checks for the InferServer services (health and reflection stay open). Admin needs an admin key unless
/// Security:AllowUnauthenticatedAdmin is true; Inference needs an inference or admin key when any inference key is
/// configured. No key or an unknown key: UNAUTHENTICATED; an inference key on Admin: PERMISSION_DENIED. Keys are
/// compared as SHA-256 digests in constant time.
/// </summary>
public sealed class ApiKeyInterceptor(ApiKeys apiKeys) : Interceptor
{
    private const string AdminPrefix = "/inferserver.v1.Admin/";
    private const string InferencePrefix = "/inferserver.v1.Inference/";

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
        if (context.Method.StartsWith(AdminPrefix, StringComparison.Ordinal))
            apiKeys.Authorize(ApiKeyScope.Admin, "the Admin service", headers.GetValue("authorization"), headers.GetValue("x-api-key"));
        else if (context.Method.StartsWith(InferencePrefix, StringComparison.Ordinal))
            apiKeys.Authorize(ApiKeyScope.Inference, "the Inference service", headers.GetValue("authorization"), headers.GetValue("x-api-key"));
    }
}
