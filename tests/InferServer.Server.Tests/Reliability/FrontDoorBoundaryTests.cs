using System.Net;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using InferServer.Api.V1;
using InferServer.Server.Tests.Api;
using InferServer.Server.Tests.Hosting;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// Boundaries a client can probe from outside: the admin key whatever the case of the method path, the OpenAI routes
/// only where configured, /metrics and /healthz only on the metrics port, and no server directory paths for inference
/// callers.
/// </summary>
public sealed class FrontDoorBoundaryTests(ITestOutputHelper output)
{
    public static TheoryData<string> AdminMethods => new() { "LoadAdapter", "UnloadAdapter", "ListAdapters", "GetAdapter" };

    [Theory]
    [MemberData(nameof(AdminMethods))]
    public async Task EveryAdminMethod_WithTheMethodPathInAnotherCase_AndNoKey_IsRefused(string method)
    {
        await using var server = await TestServer.StartAsync(output, new FakeEngine());
        await server.Admin.LoadAdapterAsync(new LoadAdapterRequest { Name = "alpha", Path = "/adapters/alpha" }, TestServer.AdminHeaders);

        foreach (var (service, name) in new[]
                 {
                     ("INFERSERVER.V1.ADMIN", method), ("inferserver.v1.admin", method), ("inferserver.v1.Admin", method.ToLowerInvariant()),
                     ("InferServer.V1.Admin", method.ToUpperInvariant()),
                 })
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => CallRawAsync(server, service, name, RequestFor(method)));
            Assert.True(refused.StatusCode is StatusCode.Unauthenticated or StatusCode.Unimplemented,
                $"/{service}/{name} without a key answered {refused.StatusCode}: {refused.Status.Detail}");
        }
        Assert.Single((await server.Admin.ListAdaptersAsync(new ListAdaptersRequest(), TestServer.AdminHeaders)).Adapters);
    }

    [Fact]
    public async Task OpenAiPortOff_ServesNoOpenAiRouteOnAnyPort()
    {
        await using var server = await TestServer.StartAsync(output, new FakeEngine(), new Dictionary<string, string?> { ["Api:OpenAiPort"] = "-1" });
        var body = new StringContent("""{"model":"base","prompt":"hi","max_tokens":2}""", Encoding.UTF8, "application/json");

        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.PostAsync("/v1/completions", body)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("/v1/models")).StatusCode);
        using var h2c = GrpcPortClient(server);
        Assert.Equal(HttpStatusCode.NotFound, (await h2c.PostAsync("/v1/completions", body)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task MetricsAndHealthz_AreOnTheMetricsPortOnly_AndOpenAiRoutesOnTheOpenAiPortOnly()
    {
        await using var server = await TestServer.StartAsync(output, new FakeEngine());
        var openAiAddress = server.Services.GetService(typeof(Server.Api.OpenAi.OpenAiListener)) is Server.Api.OpenAi.OpenAiListener { Address: { } address }
            ? address : throw new InvalidOperationException("the OpenAI listener is not bound");
        using var openAi = new HttpClient { BaseAddress = openAiAddress };
        using var h2c = GrpcPortClient(server);

        Assert.Equal(HttpStatusCode.OK, (await openAi.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await h2c.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await openAi.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await openAi.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await h2c.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task V1Models_NamesNoServerDirectory()
    {
        await using var server = await TestServer.StartAsync(output, new FakeEngine());
        await server.Admin.LoadAdapterAsync(new LoadAdapterRequest { Name = "alpha", Path = "/adapters/alpha" }, TestServer.AdminHeaders);
        var address = ((Server.Api.OpenAi.OpenAiListener)server.Services.GetService(typeof(Server.Api.OpenAi.OpenAiListener))!).Address!;
        using var openAi = new HttpClient { BaseAddress = address };

        var models = await openAi.GetStringAsync("/v1/models");

        Assert.Contains("\"alpha\"", models);
        Assert.DoesNotContain("/adapters/alpha", models);
    }

    private static HttpClient GrpcPortClient(TestServer server) => new()
    {
        BaseAddress = server.Endpoints.GrpcAddress,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private static IMessage RequestFor(string method) => method switch
    {
        "LoadAdapter" => new LoadAdapterRequest { Name = "beta", Path = "/adapters/beta" },
        "UnloadAdapter" => new UnloadAdapterRequest { Name = "alpha" },
        "GetAdapter" => new GetAdapterRequest { Name = "alpha" },
        _ => new ListAdaptersRequest(),
    };

    /// <summary>A unary call to any path, the request serialized by hand: what a client crafting paths can do.</summary>
    private static async Task CallRawAsync(TestServer server, string service, string name, IMessage request)
    {
        var marshaller = Marshallers.Create<byte[]>(bytes => bytes, bytes => bytes);
        var call = new Method<byte[], byte[]>(MethodType.Unary, service, name, marshaller, marshaller);
        await server.Channel.CreateCallInvoker().AsyncUnaryCall(call, null, new CallOptions(), request.ToByteArray());
    }
}
