using Grpc.Health.V1;
using Grpc.HealthCheck;
using InferServer.AdapterStore;
using InferServer.AdapterStore.Registry;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InferServer.Server.Observability;

/// <summary>
/// One gRPC health service name per registered adapter, "inferserver.adapter.&lt;name&gt;": SERVING once it is in host
/// memory or hotter, NOT_SERVING while only on disk; removed (SERVICE_UNKNOWN / NOT_FOUND) when unregistered. The
/// names are dynamic, so instead of GrpcHealthChecksOptions' fixed mappings this writes the same HealthServiceImpl
/// cache the mapped services use: on every health publish and right after each admin change.
/// </summary>
public sealed class AdapterHealthPublisher(HealthServiceImpl health, IAdapterRegistry registry) : IHealthCheckPublisher
{
    /// <summary>Prefix of the per-adapter health service names.</summary>
    public const string ServicePrefix = "inferserver.adapter.";

    private readonly Lock gate = new();
    private HashSet<string> published = new(StringComparer.Ordinal);

    /// <summary>The health service name of <paramref name="adapter"/>.</summary>
    public static string ServiceName(string adapter) => ServicePrefix + adapter;

    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        Synchronize();
        return Task.CompletedTask;
    }

    /// <summary>Brings the per-adapter statuses in line with the registry now.</summary>
    public void Synchronize()
    {
        lock (gate)
        {
            var current = new HashSet<string>(StringComparer.Ordinal);
            foreach (var adapter in registry.List())
            {
                var name = ServiceName(adapter.Name);
                current.Add(name);
                health.SetStatus(name, adapter.Tier == AdapterTier.Disk
                    ? HealthCheckResponse.Types.ServingStatus.NotServing
                    : HealthCheckResponse.Types.ServingStatus.Serving);
            }
            foreach (var gone in published.Where(name => !current.Contains(name)))
            {
                health.ClearStatus(gone);
            }

            published = current;
        }
    }
}
