using InferServer.Server.Tests.Api.OpenAi;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Observability;

/// <summary>
/// Adapters loaded by the preload (Adapters:Preload, run from EngineLifetime.StartAsync) count in
/// inferserver_adapter_loads_total like any later load. They did not while AdapterEventMetrics subscribed in its own
/// StartAsync, which the host runs after EngineLifetime's: the preload's events had no subscriber yet.
/// </summary>
[Collection(OpenAiServerCollection.Name)]
public sealed class PreloadLoadCounterTests(ITestOutputHelper output)
{
    [Fact]
    public async Task APreloadedAdapter_IsCountedInAdapterLoadsTotal()
    {
        await using var server = await OpenAiTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Adapters:Preload:0"] = "qv-r8",
        });
        using var metrics = new HttpClient { BaseAddress = server.MetricsAddress };
        var exposition = await metrics.GetStringAsync("metrics");
        output.WriteLine(exposition);

        var loads = exposition.Split('\n')
            .Where(line => line.StartsWith("inferserver_adapter_loads_total{", StringComparison.Ordinal))
            .ToList();
        Assert.True(loads.Count > 0,
            "the preloaded adapter qv-r8 is in host memory (inferserver_adapters_host_count), but no host load was counted");
    }
}
