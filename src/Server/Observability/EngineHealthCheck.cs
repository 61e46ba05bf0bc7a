using InferServer.Server.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InferServer.Server.Observability;

/// <summary>Healthy while the engine is started and admitting requests; unhealthy while starting or draining.</summary>
public sealed class EngineHealthCheck(EngineLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.State switch
        {
            EngineState.Serving => HealthCheckResult.Healthy("engine serving"),
            EngineState.Draining => HealthCheckResult.Unhealthy("engine draining for shutdown"),
            _ => HealthCheckResult.Unhealthy("engine starting"),
        });
}
