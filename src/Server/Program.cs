using InferServer.Server.Demo;
using InferServer.Server.Hosting;

if (args is ["make-demo", ..])
    return MakeDemoCommand.Run(args[1..]);

var builder = InferServerApplication.CreateBuilder(args);
builder.AddInferenceEngine(EngineRuntimeFactory.Create);

var app = builder.Build();
app.MapInferServer();
await app.RunAsync();
return 0;
