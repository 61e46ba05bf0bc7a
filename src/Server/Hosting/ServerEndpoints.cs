using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace InferServer.Server.Hosting;

/// <summary>
/// The endpoints the server listens on, known after start (port 0 binds any free port; Kestrel writes the bound
/// port back into the listen options). Tests read the ports here; <see cref="Describe"/> is the startup line.
/// </summary>
public sealed class ServerEndpoints(IServiceProvider services)
{
    internal ListenOptions? Grpc { get; set; }

    internal ListenOptions? Http { get; set; }

    /// <summary>The gRPC (HTTP/2) address, e.g. http://127.0.0.1:50051; null when Kestrel:Endpoints configures the endpoints.</summary>
    public Uri? GrpcAddress => Grpc is { IPEndPoint: { } endPoint } ? new Uri($"http://{endPoint}") : null;

    /// <summary>The HTTP/1.1 address for /metrics and /healthz; null when there is none.</summary>
    public Uri? HttpAddress => Http is { IPEndPoint: { } endPoint } ? new Uri($"http://{endPoint}") : null;

    /// <summary>One line naming every listening address and what it serves.</summary>
    public string Describe()
    {
        if (GrpcAddress is { } grpc)
        {
            var line = $"InferServer listening on {Trim(grpc)} (gRPC)";
            if (HttpAddress is { } http)
            {
                line += $", {Trim(http)} (metrics, health)";
            }

            if (services.GetService<Api.OpenAi.OpenAiListener>()?.Address is { } openAi)
            {
                line += $", {Trim(openAi)} (OpenAI HTTP)";
            }

            return line;
        }
        // IServer is resolved late: Kestrel's options (which fill this object) are built while IServer is constructed.
        var addresses = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        return $"InferServer listening on {string.Join(", ", addresses)} (Kestrel:Endpoints)";
    }

    private static string Trim(Uri address) => address.ToString().TrimEnd('/');
}
