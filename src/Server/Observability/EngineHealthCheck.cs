using InferServer.Engine;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Observability;

/// <summary>
/// Healthy exactly while requests are being served: the engine started, not draining, not faulted, and its loop turning
/// (a loop that has not turned for Engine:StallTimeout is stuck in a step, and serves nobody). grpc.health.v1 ("" and
/// the service names) and /healthz both answer from this check.
/// </summary>
public sealed class EngineHealthCheck(IServingState serving, IOptions<EngineOptions> options, TimeProvider time) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Check());

    private HealthCheckResult Check()
    {
        switch (serving.State)
        {
            case EngineState.Starting:
                return HealthCheckResult.Unhealthy("engine starting");
            case EngineState.Draining:
                return HealthCheckResult.Unhealthy("engine draining for shutdown");
            case EngineState.Faulted:
                return HealthCheckResult.Unhealthy("engine faulted; the server is restarting");
        }
        if (serving.Engine is { Fault: { } fault })
        {
            return HealthCheckResult.Unhealthy($"engine faulted ({fault.GetType().Name}); the server is restarting");
        }

        if (serving.Engine?.Heartbeat is { } beat && time.GetUtcNow() - beat > options.Value.StallTimeout)
        {
            return HealthCheckResult.Unhealthy($"engine loop has not turned for {(time.GetUtcNow() - beat).TotalSeconds:0} s");
        }

        return HealthCheckResult.Healthy("engine serving");
    }
}
