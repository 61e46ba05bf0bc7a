using Google.Rpc;
using Grpc.Core;
using Grpc.Health.V1;
using InferServer.Api.V1;
using InferServer.Server.Tests.Hosting;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Api;

/// <summary>The Admin service over a scripted registry: keys, the adapter lifecycle, per-adapter health, error codes.</summary>
public sealed class AdminApiTests(ITestOutputHelper output)
{
    private static readonly Metadata Key = TestServer.AdminHeaders;

    [Fact]
    public async Task Admin_WithoutKeyOrWithAnUnknownKey_IsUnauthenticated_AndAnInferenceKeyIsPermissionDenied()
    {
        const string inferenceKey = "inference-key-0123456789";
        await using var server = await TestServer.StartAsync(output, new FakeEngine(),
            new Dictionary<string, string?> { ["Security:InferenceApiKeys:0"] = inferenceKey });

        var anonymous = await Assert.ThrowsAsync<RpcException>(async () => await server.Admin.ListAdaptersAsync(new ListAdaptersRequest()));
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);

        var unknown = await Assert.ThrowsAsync<RpcException>(async () =>
            await server.Admin.ListAdaptersAsync(new ListAdaptersRequest(), new Metadata { { "authorization", "Bearer wrong-key-0123456789" } }));
        Assert.Equal(StatusCode.Unauthenticated, unknown.StatusCode);

        var inference = await Assert.ThrowsAsync<RpcException>(async () =>
            await server.Admin.ListAdaptersAsync(new ListAdaptersRequest(), new Metadata { { "x-api-key", inferenceKey } }));
        Assert.Equal(StatusCode.PermissionDenied, inference.StatusCode);

        Assert.Empty((await server.Admin.ListAdaptersAsync(new ListAdaptersRequest(), Key)).Adapters);
    }

    [Fact]
    public async Task Admin_WithoutKey_IsAllowedOnlyWhenExplicitlyConfigured()
    {
        await using var server = await TestServer.StartAsync(output, new FakeEngine(),
            new Dictionary<string, string?> { ["Security:AllowUnauthenticatedAdmin"] = "true" });

        Assert.Empty((await server.Admin.ListAdaptersAsync(new ListAdaptersRequest())).Adapters);
    }

    [Fact]
    public async Task LoadListGetUnload_WithAHealthServicePerAdapter()
    {
        await using var server = await TestServer.StartAsync(output, new FakeEngine());
        var health = new Health.HealthClient(server.Channel);
        var service = new HealthCheckRequest { Service = "inferserver.adapter.alpha" };

        var loaded = await server.Admin.LoadAdapterAsync(new LoadAdapterRequest { Name = "alpha", Path = "/adapters/alpha" }, Key);
        Assert.Equal(AdapterTier.Host, loaded.Tier);
        Assert.Equal(["q_proj", "v_proj"], loaded.TargetModules);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(service)).Status);

        Assert.Equal(["alpha"], (await server.Admin.ListAdaptersAsync(new ListAdaptersRequest(), Key)).Adapters.Select(adapter => adapter.Name));
        Assert.Equal("/adapters/alpha", (await server.Admin.GetAdapterAsync(new GetAdapterRequest { Name = "alpha" }, Key)).Directory);
        Assert.Equal(ServedFrom.Device, (await server.Inference.GenerateAsync(new GenerateRequest { Adapter = "alpha", Text = "hi" })).ServedFrom);

        await server.Admin.UnloadAdapterAsync(new UnloadAdapterRequest { Name = "alpha" }, Key);
        var gone = await Assert.ThrowsAsync<RpcException>(async () => await health.CheckAsync(service));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        var notFound = await Assert.ThrowsAsync<RpcException>(async () => await server.Admin.GetAdapterAsync(new GetAdapterRequest { Name = "alpha" }, Key));
        Assert.Equal(StatusCode.NotFound, notFound.StatusCode);
    }

    [Fact]
    public async Task CorruptAdapter_IsFailedPrecondition_ListingEveryProblem()
    {
        await using var server = await TestServer.StartAsync(output, new FakeEngine());

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await server.Admin.LoadAdapterAsync(new LoadAdapterRequest { Name = "broken", Path = "/adapters/corrupt" }, Key));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("lora_A of q_proj", error.Status.Detail);
        Assert.Contains("rank 512", error.Status.Detail);
        Assert.Equal(2, error.GetRpcStatus()!.GetDetail<PreconditionFailure>().Violations.Count);
    }

    [Fact]
    public async Task PathOutsideTheRoots_IsPermissionDenied_AndABadName_IsInvalidArgument()
    {
        await using var server = await TestServer.StartAsync(output, new FakeEngine());

        var path = await Assert.ThrowsAsync<RpcException>(async () =>
            await server.Admin.LoadAdapterAsync(new LoadAdapterRequest { Name = "x", Path = "/etc" }, Key));
        Assert.Equal(StatusCode.PermissionDenied, path.StatusCode);

        var name = await Assert.ThrowsAsync<RpcException>(async () =>
            await server.Admin.LoadAdapterAsync(new LoadAdapterRequest { Name = "a/b" }, Key));
        Assert.Equal(StatusCode.InvalidArgument, name.StatusCode);
        Assert.Equal("name", name.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);

        var empty = await Assert.ThrowsAsync<RpcException>(async () => await server.Admin.LoadAdapterAsync(new LoadAdapterRequest(), Key));
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
    }
}
