using InferServer.Server.Hosting;

// `inferserver healthcheck [--port N]`: the container HEALTHCHECK probe (grpc.health.v1), without starting a server.
if (args is ["healthcheck", .. var healthCheckArgs])
    return await HealthCheckCommand.RunAsync(healthCheckArgs);

var builder = InferServerApplication.CreateBuilder(args);
builder.AddInferenceEngine(EngineRuntimeFactory.Create);

var app = builder.Build();
app.MapInferServer();
await app.RunAsync();
return 0;
