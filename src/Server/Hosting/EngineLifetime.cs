using InferServer.Server.Api;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Hosting;

/// <summary>
/// Starts the engine with the host (resolving <see cref="IEngineRuntime"/> builds the model, so a bad model fails the
/// start, not the first request) and drains it on shutdown: hosted services stop before Kestrel, so running requests
/// finish within Api:DrainTimeout while the server still holds their connections.
/// </summary>
public sealed partial class EngineLifetime(
    IServiceProvider services, IOptions<ApiOptions> apiOptions, ILogger<EngineLifetime> logger) : IHostedService
{
    private volatile EngineState state = EngineState.Starting;

    /// <summary>The engine's state, for health checks.</summary>
    public EngineState State => state;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var runtime = services.GetRequiredService<IEngineRuntime>();
        var model = runtime.Engine.Model;
        Log.EngineStarted(logger, model.ServedName, model.ModelType, model.Kind.ToString());
        state = EngineState.Serving;
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        state = EngineState.Draining;
        var drain = apiOptions.Value.DrainTimeout;
        Log.Draining(logger, drain.TotalSeconds);
        await services.GetRequiredService<IEngineRuntime>().StopAsync(drain).WaitAsync(cancellationToken);
        Log.Drained(logger);
    }
}
