using InferServer.Demo;
using InferServer.Server.Hosting;

// `inferserver make-demo DIR [--kind …]`: writes the demo models, without starting a server.
if (args is ["make-demo", ..])
{
    return MakeDemoCommand.Run(args[1..]);
}

// `inferserver healthcheck [--port N]`: the container HEALTHCHECK probe (grpc.health.v1), without starting a server.
if (args is ["healthcheck", .. var healthCheckArgs])
{
    return await HealthCheckCommand.RunAsync(healthCheckArgs);
}

WebApplication app;
EngineLifetime lifetime;
try
{
    var builder = InferServerApplication.CreateBuilder(args);
    builder.AddInferenceEngine(ServedEngineComposition.FromServices);
    app = builder.Build();
    app.MapInferServer();
    // Resolved before running: RunAsync disposes the service provider when the host stops.
    lifetime = app.Services.GetRequiredService<EngineLifetime>();
}
catch (Exception error)
{
    return StartFailure.Report(error, Console.Error);
}

var started = false;
app.Lifetime.ApplicationStarted.Register(() => started = true);
try
{
    await app.RunAsync();
}
catch (Exception error) when (!started)
{
    // The model, the adapters, the options or a listener (a port in use) failed before the host finished starting.
    return StartFailure.Report(error, Console.Error);
}
// Non-zero after an engine fault, so that the orchestrator restarts the server (EngineLifetime).
return lifetime.ExitCode;
