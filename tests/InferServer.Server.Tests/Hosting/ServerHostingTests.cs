using Grpc.Core;
using Grpc.Reflection.V1Alpha;
using InferServer.Engine;
using InferServer.Server.Hosting;
using InferServer.Server.Tests.Api;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Hosting;

/// <summary>Hosting around the services: reflection, startup line, option validation, drain on shutdown.</summary>
public sealed class ServerHostingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Reflection_ListsTheServices()
    {
        await using var server = await TestServer.StartAsync(output, new FakeEngine());
        var reflection = new ServerReflection.ServerReflectionClient(server.Channel);

        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(service => service.Name).ToList();

        Assert.Contains("inferserver.v1.Inference", services);
        Assert.Contains("inferserver.v1.Admin", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }

    [Fact]
    public async Task Startup_DescribesTheListeningAddresses()
    {
        await using var server = await TestServer.StartAsync(output, new FakeEngine());

        var line = server.Endpoints.Describe();

        var openAi = server.Services.GetRequiredService<Server.Api.OpenAi.OpenAiListener>().Address!;
        Assert.Equal($"InferServer listening on http://127.0.0.1:{server.Endpoints.GrpcAddress!.Port} (gRPC), "
                     + $"http://127.0.0.1:{server.Endpoints.HttpAddress!.Port} (metrics, health), http://127.0.0.1:{openAi.Port} (OpenAI HTTP)", line);
        Assert.NotEqual(0, server.Endpoints.GrpcAddress.Port);
    }

    [Fact]
    public async Task InvalidOptions_StopTheStart_NamingEveryKey()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(output, new FakeEngine(),
            new Dictionary<string, string?> { ["Api:MaxNewTokens"] = "0", ["Engine:DType"] = "int3", ["Security:AdminApiKeys:0"] = "short" }));

        output.WriteLine(error.Message);
        Assert.Contains(error.Failures, failure => failure.Contains("Api:MaxNewTokens", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Shutdown_DrainsTheEngineWithTheConfiguredTimeout()
    {
        var engine = new FakeEngine();
        var server = await TestServer.StartAsync(output, engine);
        var lifetime = server.Services.GetRequiredService<EngineLifetime>();
        Assert.Equal(EngineState.Serving, lifetime.State);

        await server.DisposeAsync();

        Assert.Equal(TimeSpan.FromSeconds(5), engine.DrainedWith);
        Assert.Equal(EngineState.Draining, lifetime.State);
    }
}
