using InferServer.Server.Hosting;

var builder = InferServerApplication.CreateBuilder(args);
builder.AddInferenceEngine(EngineRuntimeFactory.Create);

var app = builder.Build();
app.MapInferServer();
await app.RunAsync();
