using Grpc.Health.V1;
using Grpc.Net.Client;

namespace InferServer.Server.Hosting;

/// <summary>
/// <c>inferserver healthcheck</c>: asks the local server's grpc.health.v1 service whether it is SERVING and exits 0 if
/// so, 1 otherwise. For container HEALTHCHECKs, where the image has no grpc_health_probe and the runtime image has no
/// shell tools worth relying on. Reads the same Api:GrpcPort as the server (flags, then environment such as Api__GrpcPort).
/// </summary>
public static class HealthCheckCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var configuration = new ConfigurationBuilder()
            .AddEnvironmentVariables()
            .AddCommandLine(args, InferServerApplication.SwitchMappings.ToDictionary())
            .Build();
        var port = configuration.GetValue("Api:GrpcPort", 50051);
        var service = configuration["service"] ?? "";
        // Always the loopback address: the check runs beside the server, whatever address the server binds.
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        try
        {
            var reply = await new Health.HealthClient(channel).CheckAsync(
                new HealthCheckRequest { Service = service }, deadline: DateTime.UtcNow.AddSeconds(5));
            Console.WriteLine($"{(service.Length == 0 ? "server" : service)}: {reply.Status}");
            return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving ? 0 : 1;
        }
        catch (Grpc.Core.RpcException exception)
        {
            Console.WriteLine($"unhealthy: {exception.StatusCode} {exception.Status.Detail}");
            return 1;
        }
    }
}
