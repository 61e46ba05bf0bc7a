using InferServer.Server.Observability;
using InferServer.Server.Tests.Api.OpenAi;

namespace InferServer.Server.Tests.Observability;

/// <summary>
/// The Inference Extension's model-server protocol metrics, read from /metrics as a scraper reads them. A busy server is
/// made deterministic with Engine:MaxBatchRows = 1 and one request of 16 long choices: one runs, the others wait, for
/// many steps.
/// </summary>
[Collection(OpenAiServerCollection.Name)]
public sealed class ModelServerProtocolMetricsTests(OpenAiServerFixture fixture)
{
    private static readonly Dictionary<string, string?> OneRowAtATime = new() { ["Engine:MaxBatchRows"] = "1" };

    [Fact]
    public async Task ByDefault_OurNamesAreExposedAndNoVllmNames()
    {
        await using var server = await OpenAiTestServer.StartAsync();

        var metrics = await server.ScrapeAsync();

        Assert.Equal(0, metrics.Single("inferserver_queue_waiting"));
        Assert.Equal(0, metrics.Single("inferserver_requests_running"));
        Assert.Equal(0, metrics.Single("inferserver_kv_cache_usage"));
        var lora = metrics.Latest("inferserver_lora_requests_info");
        // Automatic device slots: one per row a step can hold (the demo model's worst-case slot fits the default budget that often).
        Assert.Equal(new InferServer.Engine.EngineOptions().MaxBatchRows.ToString(System.Globalization.CultureInfo.InvariantCulture), lora.Labels["max_lora"]);
        Assert.Equal("", lora.Labels["running_lora_adapters"]);
        Assert.Equal("", lora.Labels["waiting_lora_adapters"]);
        Assert.DoesNotContain(metrics.Samples, sample => sample.Name.StartsWith("vllm:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithVllmNames_TheProtocolMetricsCarryVllmNamesOnTheMetricsAndOpenAiPorts()
    {
        var server = fixture.Server;
        foreach (var address in new[] { server.MetricsAddress, server.OpenAiAddress })
        {
            using var client = new HttpClient { BaseAddress = address };
            var metrics = PrometheusText.Parse(await client.GetStringAsync("metrics"));

            foreach (var name in new[] { "vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc" })
                Assert.Equal(OpenAiTestServer.ServedName, Assert.Single(metrics.All(name)).Labels["model_name"]);
            var lora = Assert.Single(metrics.All("vllm:lora_requests_info"));
            Assert.Equal(["max_lora", "running_lora_adapters", "waiting_lora_adapters"], lora.Labels.Keys.Order());
            // Both read the same status; the engine may publish a newer one between the two reads of one scrape.
            Assert.InRange(lora.Value - metrics.Latest("inferserver_lora_requests_info").Value, 0, 5);
            Assert.True(lora.Value > DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeSeconds(), "the value is the status time in Unix seconds");
        }
    }

    [Fact]
    public async Task UnderLoad_QueuedRunningAndKvCacheRiseThenFallBackToZero()
    {
        await using var server = await OpenAiTestServer.StartAsync(new Dictionary<string, string?>(OneRowAtATime) { ["Metrics:VllmCompatibleNames"] = "true" });

        var busy = server.PostAsync("v1/completions", LongChoices(OpenAiTestServer.ServedName));
        var seen = await WaitForMetricsAsync(server, busy, metrics =>
            metrics.Single("inferserver_requests_running") == 1 && metrics.Single("inferserver_queue_waiting") >= 1
            && metrics.Single("inferserver_kv_cache_usage") > 0);

        Assert.Equal(1, Assert.Single(seen.All("vllm:num_requests_running")).Value);
        Assert.True(Assert.Single(seen.All("vllm:num_requests_waiting")).Value >= 1);
        Assert.True(Assert.Single(seen.All("vllm:kv_cache_usage_perc")).Value > 0);
        var (status, body) = await busy;
        Assert.True(status == 200, OpenAiTestServer.Show(body));
        await WaitForMetricsAsync(server, null, metrics =>
            metrics.Single("inferserver_requests_running") == 0 && metrics.Single("inferserver_queue_waiting") == 0);
    }

    [Fact]
    public async Task LoraLabels_FollowAnAdapterAsItLoadsRunsAndUnloads()
    {
        await using var server = await OpenAiTestServer.StartAsync(OneRowAtATime);
        var (loaded, loadBody) = await server.PostAsync("v1/load_lora_adapter", new { lora_name = "sql", lora_path = OpenAiTestServer.AdapterDirectory("qv-r8") });
        Assert.True(loaded == 200, OpenAiTestServer.Show(loadBody));
        var idle = (await server.ScrapeAsync()).Latest("inferserver_lora_requests_info");
        Assert.True(int.Parse(idle.Labels["max_lora"]) >= 1);
        Assert.DoesNotContain("sql", Adapters(idle, "running_lora_adapters"));

        var busy = server.PostAsync("v1/completions", LongChoices("sql"));
        // One row at a time: while one choice runs, the others wait, so a scrape sees the adapter in both lists. Waiting for
        // that scrape (rather than asserting on the first that shows it running) does not race the last choice's admission.
        await WaitForMetricsAsync(server, busy, metrics =>
        {
            var info = metrics.Latest("inferserver_lora_requests_info");
            return Adapters(info, "running_lora_adapters").Contains("sql") && Adapters(info, "waiting_lora_adapters").Contains("sql");
        });
        Assert.True((await busy).Status == 200);

        await WaitForMetricsAsync(server, null, metrics =>
            !Adapters(metrics.Latest("inferserver_lora_requests_info"), "running_lora_adapters").Contains("sql"));
        var (unloaded, _) = await server.PostAsync("v1/unload_lora_adapter", new { lora_name = "sql" });
        Assert.Equal(200, unloaded);
        var after = (await server.ScrapeAsync()).Latest("inferserver_lora_requests_info");
        Assert.DoesNotContain("sql", Adapters(after, "running_lora_adapters").Concat(Adapters(after, "waiting_lora_adapters")));
    }

    [Fact]
    public async Task TwoReplicas_TheirLoraMetricsTellARouterWhereEachAdapterIsWarm()
    {
        await using var replicaA = await OpenAiTestServer.StartAsync(OneRowAtATime);
        await using var replicaB = await OpenAiTestServer.StartAsync(OneRowAtATime);
        Assert.Equal(200, (await replicaA.PostAsync("v1/load_lora_adapter", new { lora_name = "sql", lora_path = OpenAiTestServer.AdapterDirectory("qv-r8") })).Status);
        Assert.Equal(200, (await replicaB.PostAsync("v1/load_lora_adapter", new { lora_name = "chat", lora_path = OpenAiTestServer.AdapterDirectory("all-r16") })).Status);

        var busyA = replicaA.PostAsync("v1/completions", LongChoices("sql"));
        var busyB = replicaB.PostAsync("v1/completions", LongChoices("chat"));
        var scrapeA = await WaitForMetricsAsync(replicaA, busyA, metrics =>
            Adapters(metrics.Latest("inferserver_lora_requests_info"), "running_lora_adapters").Contains("sql"));
        var scrapeB = await WaitForMetricsAsync(replicaB, busyB, metrics =>
            Adapters(metrics.Latest("inferserver_lora_requests_info"), "running_lora_adapters").Contains("chat"));
        var replicas = new Dictionary<string, PrometheusText> { ["A"] = scrapeA, ["B"] = scrapeB };

        Assert.Equal("A", PickReplica("sql", replicas));
        Assert.Equal("B", PickReplica("chat", replicas));
        Assert.True((await busyA).Status == 200 && (await busyB).Status == 200);
    }

    /// <summary>
    /// LoRA affinity as the reference endpoint picker applies it: a replica that already runs or queues the adapter, then
    /// one with a free adapter slot (fewer running adapters than max_lora), then the shortest queue.
    /// </summary>
    private static string PickReplica(string adapter, IReadOnlyDictionary<string, PrometheusText> replicas)
    {
        var lora = replicas.ToDictionary(replica => replica.Key, replica => replica.Value.Latest("inferserver_lora_requests_info"));
        var warm = lora.Where(replica => Adapters(replica.Value, "running_lora_adapters").Concat(Adapters(replica.Value, "waiting_lora_adapters")).Contains(adapter))
            .Select(replica => replica.Key).ToList();
        if (warm.Count > 0) return warm.MinBy(name => replicas[name].Single("inferserver_queue_waiting"))!;
        var free = lora.Where(replica => Adapters(replica.Value, "running_lora_adapters").Length < int.Parse(replica.Value.Labels["max_lora"]))
            .Select(replica => replica.Key).ToList();
        return (free.Count > 0 ? free : [.. replicas.Keys]).MinBy(name => replicas[name].Single("inferserver_queue_waiting"))!;
    }

    private static string[] Adapters(PrometheusSample lora, string label) =>
        lora.Labels[label].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    // 16 choices of 100 tokens each from a 4-token prompt (llama-tiny's context is 128): one running, up to 15 waiting.
    private static object LongChoices(string model) =>
        new { model, prompt = new[] { 1, 2, 3, 4 }, max_tokens = 100, n = 16, temperature = 0, ignore_eos = true };

    /// <summary>Scrapes until <paramref name="condition"/> holds; fails if <paramref name="request"/> ends first, or after 30 s.</summary>
    private static async Task<PrometheusText> WaitForMetricsAsync(OpenAiTestServer server, Task? request, Func<PrometheusText, bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var requestDone = request is { IsCompleted: true };
            var metrics = await server.ScrapeAsync();
            if (condition(metrics)) return metrics;
            Assert.False(requestDone, "the request finished before the metrics showed it");
            await Task.Delay(5, timeout.Token);
        }
    }
}
