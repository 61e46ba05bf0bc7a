using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Api;

/// <summary>
/// API-key checks for the InferServer services (health and reflection stay open). Admin needs an admin key unless
/// Security:AllowUnauthenticatedAdmin is true; Inference needs an inference or admin key when any inference key is
/// configured. No key or an unknown key: UNAUTHENTICATED; an inference key on Admin: PERMISSION_DENIED. Keys are
/// compared as SHA-256 digests in constant time.
/// </summary>
public sealed class ApiKeyInterceptor : Interceptor
{
    private const string AdminPrefix = "/inferserver.v1.Admin/";
    private const string InferencePrefix = "/inferserver.v1.Inference/";

    private readonly bool allowUnauthenticatedAdmin;
    private readonly byte[][] adminKeys;
    private readonly byte[][] inferenceKeys;

    public ApiKeyInterceptor(IOptions<SecurityOptions> options)
    {
        allowUnauthenticatedAdmin = options.Value.AllowUnauthenticatedAdmin;
        adminKeys = [.. options.Value.AdminApiKeys.Select(Digest)];
        inferenceKeys = [.. options.Value.InferenceApiKeys.Select(Digest)];
    }

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

    private void Authorize(ServerCallContext context)
    {
        if (context.Method.StartsWith(AdminPrefix, StringComparison.Ordinal))
        {
            if (allowUnauthenticatedAdmin) return;
            var key = PresentedKey(context.RequestHeaders)
                ?? throw Unauthenticated("the Admin service needs an API key (authorization: Bearer <key> or x-api-key)");
            if (Matches(key, adminKeys)) return;
            if (Matches(key, inferenceKeys))
                throw new RpcException(new Status(StatusCode.PermissionDenied, "this API key may not call the Admin service"));
            throw Unauthenticated("API key not recognised");
        }
        if (context.Method.StartsWith(InferencePrefix, StringComparison.Ordinal) && inferenceKeys.Length > 0)
        {
            var key = PresentedKey(context.RequestHeaders)
                ?? throw Unauthenticated("the Inference service needs an API key (authorization: Bearer <key> or x-api-key)");
            if (!Matches(key, inferenceKeys) && !Matches(key, adminKeys)) throw Unauthenticated("API key not recognised");
        }
    }

    private static RpcException Unauthenticated(string message) => new(new Status(StatusCode.Unauthenticated, message));

    private static byte[]? PresentedKey(Metadata headers)
    {
        if (headers.GetValue("x-api-key") is { Length: > 0 } apiKey) return Digest(apiKey);
        const string bearer = "Bearer ";
        if (headers.GetValue("authorization") is { } authorization
            && authorization.StartsWith(bearer, StringComparison.OrdinalIgnoreCase)
            && authorization.Length > bearer.Length)
            return Digest(authorization[bearer.Length..].Trim());
        return null;
    }

    private static bool Matches(byte[] presented, byte[][] keys)
    {
        var match = false;
        foreach (var key in keys) match |= CryptographicOperations.FixedTimeEquals(presented, key);
        return match;
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
