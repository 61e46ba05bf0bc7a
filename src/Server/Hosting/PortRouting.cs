using InferServer.Server.Api.OpenAi;

namespace InferServer.Server.Hosting;

/// <summary>
/// Keeps each endpoint on the listener it belongs to. ASP.NET Core routes match on every listener, so without this the
/// OpenAI routes answered on the metrics and gRPC ports (even with Api:OpenAiPort=-1, "off"), and /metrics and /healthz
/// on the OpenAI and gRPC ports. Endpoints carry <see cref="ServedOnMetadata"/>; a middleware after routing answers 404
/// when the connection arrived on another listener. Endpoints without the metadata are unrestricted. When
/// Kestrel:Endpoints configures the listeners (TLS, other addresses) their roles are unknown and nothing is restricted,
/// except that a listener configured off (port -1) serves nothing.
/// </summary>
public static class PortRouting
{
    /// <summary>Restricts the endpoints of <paramref name="builder"/> to <paramref name="ports"/>.</summary>
    public static TBuilder ServedOn<TBuilder>(this TBuilder builder, params ServedPort[] ports) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ServedOnMetadata(ports));

    /// <summary>Adds the middleware that refuses an endpoint reached through a listener it is not served on.</summary>
    public static WebApplication UsePortRouting(this WebApplication app)
    {
        var endpoints = app.Services.GetRequiredService<ServerEndpoints>();
        var openAi = app.Services.GetRequiredService<OpenAiListener>();
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<ServedOnMetadata>() is { } servedOn
                && !servedOn.Ports.Any(port => Serves(port, context.Connection.LocalPort, endpoints, openAi)))
            {
                context.SetEndpoint(null);
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            await next(context);
        });
        return app;
    }

    private static bool Serves(ServedPort port, int localPort, ServerEndpoints endpoints, OpenAiListener openAi)
    {
        if (endpoints.GrpcAddress is null)
        {
            return true; // Kestrel:Endpoints: the operator's configuration decides
        }

        var listener = port switch
        {
            ServedPort.Grpc => endpoints.GrpcAddress,
            ServedPort.Metrics => endpoints.HttpAddress,
            _ => openAi.Address,
        };
        return listener is not null && listener.Port == localPort;
    }

    /// <summary>The listeners an endpoint is served on.</summary>
    public sealed record ServedOnMetadata(IReadOnlyList<ServedPort> Ports);
}
