using InferServer.Engine.Composition;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using InferServer.Server.Api;
using InferServer.Engine;
using InferServer.Server.Observability;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Hosting;

/// <summary>
/// Starts the engine with the host (resolving <see cref="IEngineRuntime"/> builds the model, starting it preloads the
/// configured adapters, so a bad model or adapter fails the start, not the first request), watches it while it serves,
/// and drains it on shutdown before anything else stops (<see cref="StoppingAsync"/>): running requests finish within
/// Api:DrainTimeout, or end with UNAVAILABLE, while the listeners still carry their responses.
/// </summary>
/// <remarks>
/// Supervision from the outside: when the engine reports a <see cref="IInferenceEngine.Fault"/> (its loop cannot go on;
/// it has already failed every request with UNAVAILABLE), the state turns <see cref="EngineState.Faulted"/>, the gRPC
/// health statuses turn NOT_SERVING at once (not at the next periodic publish), and the host stops with
/// <see cref="ExitCode"/> 70 (EX_SOFTWARE), so Kubernetes restarts the pod.
/// </remarks>
public sealed partial class EngineLifetime(
    IServiceProvider services, IOptions<ApiOptions> apiOptions, IHostApplicationLifetime host, ILogger<EngineLifetime> logger)
    : IHostedLifecycleService, IServingState
{
    /// <summary>The process exit code after the engine faulted (sysexits EX_SOFTWARE).</summary>
    public const int FaultedExitCode = 70;

    private static readonly TimeSpan WatchInterval = TimeSpan.FromMilliseconds(100);

    private readonly CancellationTokenSource watching = new();
    private volatile EngineState state = EngineState.Starting;
    private Task watch = Task.CompletedTask;
    private readonly Lock draining = new();
    private Task? drained;
    private IEngineRuntime? runtime;

    /// <summary>The engine's state, for health checks.</summary>
    public EngineState State => state;

    /// <summary>The engine once started; null before.</summary>
    public IInferenceEngine? Engine { get; private set; }

    /// <summary>What the process should exit with: 0, or <see cref="FaultedExitCode"/> after an engine fault.</summary>
    public int ExitCode { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var started = services.GetRequiredService<IEngineRuntime>();
        await started.StartAsync(cancellationToken);
        runtime = started;
        Engine = started.Engine;
        var model = started.Engine.Model;
        Log.EngineStarted(logger, model.ServedName, model.ModelType, model.Kind.ToString());
        state = EngineState.Serving;
        // Say so at once: the periodic health publish may have run while the engine was still starting.
        PublishStatus(HealthCheckResponse.Types.ServingStatus.Serving);
        watch = WatchAsync(started.Engine, watching.Token);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The drain, before any hosted service stops: Kestrel's own StopAsync comes first among those (the host stops them
    /// in reverse order) and waits for every open request, so draining there would let running streams go on past
    /// Api:DrainTimeout and then cut them off. Here the listeners still carry every response to its end.
    /// </summary>
    public Task StoppingAsync(CancellationToken cancellationToken) => DrainOnceAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => DrainOnceAsync(cancellationToken);

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private Task DrainOnceAsync(CancellationToken cancellationToken)
    {
        lock (draining)
        {
            return drained ??= DrainAsync(cancellationToken);
        }
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        await watching.CancelAsync();
        await watch;
        if (runtime is null)
        {
            return; // the start failed; the container disposes what was built
        }

        if (state != EngineState.Faulted)
        {
            state = EngineState.Draining;
        }

        PublishStatus(HealthCheckResponse.Types.ServingStatus.NotServing);
        var drain = apiOptions.Value.DrainTimeout;
        Log.Draining(logger, drain.TotalSeconds);
        try
        {
            await runtime.StopAsync(drain).WaitAsync(cancellationToken);
            Log.Drained(logger);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout ran out first; stopping must not throw, or the process aborts instead of exiting.
            Log.DrainAbandoned(logger);
        }
    }

    private async Task WatchAsync(IInferenceEngine engine, CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(WatchInterval);
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (engine.Fault is not { } fault)
                {
                    continue;
                }

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
        {
            return;
        }

        foreach (var service in ObservabilityExtensions.ServerHealthServices)
        {
            health.SetStatus(service, status);
        }
    }
}
