using Grpc.AspNetCore.Server;
using Grpc.Core;

namespace InferServer.Server.Api;

/// <summary>
/// The gRPC method a call was routed to, from its endpoint's metadata. Use it, never <c>context.Method</c> (the request
/// path as sent), for anything that decides or labels: routing matches paths case-insensitively, so the path a client
/// sends ("/INFERSERVER.V1.ADMIN/ListAdapters") need not equal the method it reaches.
/// </summary>
public static class RoutedMethod
{
    /// <summary>The method's canonical full name ("/inferserver.v1.Admin/ListAdapters"), or the path when no metadata is present.</summary>
    public static string FullName(ServerCallContext context) => Of(context)?.FullName ?? context.Method;

    /// <summary>The method's service ("inferserver.v1.Admin"), or null when no metadata is present.</summary>
    public static string? Service(ServerCallContext context) => Of(context)?.ServiceName;

    private static IMethod? Of(ServerCallContext context) =>
        context.GetHttpContext().GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method;
}
