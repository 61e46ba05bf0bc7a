using InferServer.Engine;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Observability;

/// <summary>
/// Healthy exactly while requests are being served: the engine started, not draining, not faulted, and its loop turning
/// (a loop that has not turned for Engine:StallTimeout is stuck in a step, and serves nobody). grpc.health.v1 ("" and
/// the service names) and /healthz both answer from this check.
/// </summary>
/// <remarks>
/// Starting and draining are Unhealthy (NOT_SERVING, 503) but expected, so they are not failures in the log: the health
/// check service (category Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService), which logs every
/// Unhealthy result at Error, is set to Critical in appsettings.json, and this check logs the unexpected states itself
/// (a faulted engine is logged at Critical by the host when it stops).
/// </remarks>
public sealed partial class EngineHealthCheck(
    IServingState serving, IOptions<EngineOptions> options, TimeProvider time, ILogger<EngineHealthCheck> logger) : IHealthCheck
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
            var stalled = time.GetUtcNow() - beat;
            Log.Stalled(logger, stalled.TotalSeconds);
            return HealthCheckResult.Unhealthy($"engine loop has not turned for {stalled.TotalSeconds:0} s");
        }

        return HealthCheckResult.Healthy("engine serving");
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "The engine loop has not turned for {StalledSeconds:0} s; health is NOT_SERVING", EventName = "EngineStalled")]
        public static partial void Stalled(ILogger logger, double stalledSeconds);
    }
}
