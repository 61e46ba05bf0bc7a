using InferServer.Server.Tests.Api.OpenAi;


namespace InferServer.Server.Tests.Observability;

/// <summary>
/// A real server scraped after traffic that exercises every counter: two adapters loaded from disk on first use, one
/// device slot (so the second evicts the first), and a merge window of one request (so a lone adapter's steps merge).
/// </summary>
public sealed class ScrapedServer : IAsyncLifetime
{
    private OpenAiTestServer? server;

    /// <summary>The /metrics text after the traffic.</summary>
    public string Exposition { get; private set; } = "";

    public async Task InitializeAsync()
    {
        server = await OpenAiTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Adapters:DeviceSlots"] = "1",
            ["Adapters:MergeWindow"] = "1",
            ["Metrics:VllmCompatibleNames"] = "true",
        });
        // 20 tokens: the second qv-r8 request reuses the first's full block from the prefix cache.
        var prompt = Enumerable.Range(1, 20).ToArray();
        foreach (var adapter in new[] { "qv-r8", "all-r16", "qv-r8" })
        {
            var (status, body) = await server.PostAsync("v1/completions",
                new { model = adapter, prompt, max_tokens = 4, temperature = 0, ignore_eos = true });
            Assert.True(status == 200, OpenAiTestServer.Show(body));
        }
        using var client = new HttpClient { BaseAddress = server.MetricsAddress };
        Exposition = await client.GetStringAsync("metrics");
    }

    public async Task DisposeAsync()
    {
        if (server is not null) await server.DisposeAsync();
    }
}
