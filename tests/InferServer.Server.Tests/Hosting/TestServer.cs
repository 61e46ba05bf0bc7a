using InferServer.Engine.Composition;
using Grpc.Core;
using Grpc.Net.Client;
using InferServer.Api.V1;
using InferServer.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Hosting;

/// <summary>
/// The real server (same composition as Program.cs) on real Kestrel at 127.0.0.1, ports chosen by the OS, logs in the
/// test output, and generated gRPC clients. <paramref name="runtime"/> null = the real engine from configuration.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    public const string AdminKey = "admin-key-0123456789abcdef";

    private readonly WebApplication app;

    private TestServer(WebApplication app)
    {
        this.app = app;
        Endpoints = app.Services.GetRequiredService<ServerEndpoints>();
        Channel = GrpcChannel.ForAddress(Endpoints.GrpcAddress!);
        Http = new HttpClient { BaseAddress = Endpoints.HttpAddress };
        Inference = new Inference.InferenceClient(Channel);
        Admin = new Admin.AdminClient(Channel);
    }

    public ServerEndpoints Endpoints { get; }
    public GrpcChannel Channel { get; }
    public HttpClient Http { get; }
    public Inference.InferenceClient Inference { get; }
    public Admin.AdminClient Admin { get; }
    public IServiceProvider Services => app.Services;

    /// <summary>Metadata carrying the admin key.</summary>
    public static Metadata AdminHeaders => new() { { "authorization", "Bearer " + AdminKey } };

    public static async Task<TestServer> StartAsync(ITestOutputHelper output, IEngineRuntime? runtime, IDictionary<string, string?>? configuration = null)
    {
        var builder = InferServerApplication.CreateBuilder(["--port", "0", "--http-port", "0", "--openai-port", "0"]);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Security:AdminApiKeys:0"] = AdminKey,
            ["Api:DrainTimeout"] = "00:00:05",
        });
        if (configuration is not null) builder.Configuration.AddInMemoryCollection(configuration);
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new XunitLoggerProvider(output));
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        builder.AddInferenceEngine(runtime is null ? ServedEngineComposition.FromServices : _ => runtime);
        var app = builder.Build();
        app.MapInferServer();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            // A start that fails leaves nothing running: the container disposes the engine runtime it built.
            await app.DisposeAsync();
            throw;
        }
        return new TestServer(app);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        Http.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
