using Grpc.Health.V1;
using Grpc.HealthCheck;
using InferServer.Server.Api;
using InferServer.Server.Engine;
using InferServer.Server.Observability;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Hosting;

/// <summary>
/// Starts the engine with the host (resolving <see cref="IEngineRuntime"/> builds the model, starting it preloads the
/// configured adapters, so a bad model or adapter fails the start, not the first request), watches it while it serves, and drains it on shutdown: hosted services stop before
/// Kestrel, so running requests finish within Api:DrainTimeout while the server still holds their connections.
/// </summary>
/// <remarks>
/// Supervision from the outside: when the engine reports a <see cref="IInferenceEngine.Fault"/> (its loop cannot go on;
/// it has already failed every request with UNAVAILABLE), the state turns <see cref="EngineState.Faulted"/>, the gRPC
/// health statuses turn NOT_SERVING at once (not at the next periodic publish), and the host stops with
/// <see cref="ExitCode"/> 70 (EX_SOFTWARE), so Kubernetes restarts the pod.
/// </remarks>
public sealed partial class EngineLifetime(
    IServiceProvider services, IOptions<ApiOptions> apiOptions, IHostApplicationLifetime host, ILogger<EngineLifetime> logger)
    : IHostedService, IServingState
{
    /// <summary>The process exit code after the engine faulted (sysexits EX_SOFTWARE).</summary>
    public const int FaultedExitCode = 70;

    private static readonly TimeSpan WatchInterval = TimeSpan.FromMilliseconds(100);

    private readonly CancellationTokenSource watching = new();
    private volatile EngineState state = EngineState.Starting;
    private Task watch = Task.CompletedTask;

    /// <summary>The engine's state, for health checks.</summary>
    public EngineState State => state;

    /// <summary>The engine once started; null before.</summary>
    public IInferenceEngine? Engine { get; private set; }

    /// <summary>What the process should exit with: 0, or <see cref="FaultedExitCode"/> after an engine fault.</summary>
    public int ExitCode { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var runtime = services.GetRequiredService<IEngineRuntime>();
        await runtime.StartAsync(cancellationToken);
        Engine = runtime.Engine;
        var model = runtime.Engine.Model;
        Log.EngineStarted(logger, model.ServedName, model.ModelType, model.Kind.ToString());
        state = EngineState.Serving;
        // Say so at once: the periodic health publish may have run while the engine was still starting.
        PublishStatus(HealthCheckResponse.Types.ServingStatus.Serving);
        watch = WatchAsync(runtime.Engine, watching.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await watching.CancelAsync();
        await watch;
        if (state != EngineState.Faulted)
            state = EngineState.Draining;
        PublishStatus(HealthCheckResponse.Types.ServingStatus.NotServing);
        var drain = apiOptions.Value.DrainTimeout;
        Log.Draining(logger, drain.TotalSeconds);
        await services.GetRequiredService<IEngineRuntime>().StopAsync(drain).WaitAsync(cancellationToken);
        Log.Drained(logger);
    }

    private async Task WatchAsync(IInferenceEngine engine, CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(WatchInterval);
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (engine.Fault is not { } fault)
                    continue;
                state = EngineState.Faulted;
                ExitCode = FaultedExitCode;
                Environment.ExitCode = FaultedExitCode;
                PublishStatus(HealthCheckResponse.Types.ServingStatus.NotServing);
                Log.EngineFaulted(logger, fault.GetType().Name);
                host.StopApplication();
                return;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Sets the server-wide gRPC health statuses now, without waiting for the periodic publish.</summary>
    private void PublishStatus(HealthCheckResponse.Types.ServingStatus status)
    {
        if (services.GetService<HealthServiceImpl>() is not { } health)
            return;
        foreach (var service in ObservabilityExtensions.ServerHealthServices)
            health.SetStatus(service, status);
    }
}
