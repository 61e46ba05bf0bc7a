using Grpc.Core;
using Grpc.Health.V1;
using InferServer.Api.V1;
using InferServer.Server.Tests.Api;
using InferServer.Server.Tests.Hosting;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Observability;

/// <summary>What the hosted server tells its operators: gRPC and HTTP health, and /metrics after traffic.</summary>
public sealed class HealthAndMetricsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Health_ReportsTheServerAndEachApiServing()
    {
        await using var server = await TestServer.StartAsync(output, new FakeEngine());
        var health = new Health.HealthClient(server.Channel);

        foreach (var service in new[] { "", "inferserver.v1.Inference", "inferserver.v1.Admin" })
        {
            await Poll.UntilAsync(async () =>
                (await health.CheckAsync(new HealthCheckRequest { Service = service })).Status == HealthCheckResponse.Types.ServingStatus.Serving);
        }
        var http = await server.Http.GetStringAsync("/healthz");
        Assert.Equal("Healthy", http);
    }

    [Fact]
    public async Task Metrics_CountRequestsByAdapterRpcAndStatus_AndExposeEngineGauges()
    {
        var engine = new FakeEngine();
        await engine.LoadAsync("metrics-adapter", null, false, CancellationToken.None);
        await using var server = await TestServer.StartAsync(output, engine);

        await server.Inference.GenerateAsync(new GenerateRequest { Adapter = "metrics-adapter", Text = "a b" });
        await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(new GenerateRequest { Adapter = "unregistered", Text = "a" }));

        var metrics = await server.Http.GetStringAsync("/metrics");
        output.WriteLine(metrics);
        var requestLines = metrics.Split('\n').Where(line => line.StartsWith("inferserver_requests", StringComparison.Ordinal)).ToList();
        Assert.Contains(requestLines, line => line.Contains("adapter=\"metrics-adapter\"") && line.Contains("rpc=\"inferserver.v1.Inference/Generate\"") && line.Contains("status=\"OK\""));
        Assert.Contains(requestLines, line => line.Contains("adapter=\"other\"") && line.Contains("status=\"NotFound\""));
        Assert.DoesNotContain("unregistered", metrics);
        Assert.Contains("inferserver_time_to_first_token", metrics);
        Assert.Contains("inferserver_queue_waiting", metrics);
        Assert.Contains("inferserver_tokens_generated", metrics);
    }
}
