using InferServer.Server.Demo;
using InferServer.Server.Engine;
using InferServer.Server.Hosting;

// `inferserver make-demo DIR [--kind …]`: writes the demo models, without starting a server.
if (args is ["make-demo", ..])
    return MakeDemoCommand.Run(args[1..]);

// `inferserver healthcheck [--port N]`: the container HEALTHCHECK probe (grpc.health.v1), without starting a server.
if (args is ["healthcheck", .. var healthCheckArgs])
    return await HealthCheckCommand.RunAsync(healthCheckArgs);

var builder = InferServerApplication.CreateBuilder(args);
builder.AddInferenceEngine(EngineComposition.FromServices);

var app = builder.Build();
app.MapInferServer();
// Resolved before running: RunAsync disposes the service provider when the host stops.
var lifetime = app.Services.GetRequiredService<EngineLifetime>();
try
{
    await app.RunAsync();
}
catch (Exception error) when (lifetime.State == EngineState.Starting)
{
    // The host has logged the failure in full; one line for whoever reads the container's output, and an exit code
    // that says "fix the configuration" rather than a crash dump.
    if (error is OperationCanceledException)
    {
        Console.Error.WriteLine("inferserver: stopped before it finished starting");
        return 0;
    }
    Console.Error.WriteLine($"inferserver: could not start: {error.Message}");
    return EngineLifetime.StartFailedExitCode;
}
// Non-zero after an engine fault, so that the orchestrator restarts the server (EngineLifetime).
return lifetime.ExitCode;
