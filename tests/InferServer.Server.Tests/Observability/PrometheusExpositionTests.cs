using InferServer.Server.Tests.Api.OpenAi;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Observability;

/// <summary>
/// /metrics by the Prometheus naming guide, read from a real server after traffic: counters are typed counter and end in
/// _total, units are in the names, every family has HELP, and nothing of the runtime's private Meters leaks out.
/// </summary>
[Collection(OpenAiServerCollection.Name)]
public sealed class PrometheusExpositionTests(ScrapedServer server, ITestOutputHelper output) : IClassFixture<ScrapedServer>
{
    private PrometheusText Families
    {
        get
        {
            output.WriteLine(server.Exposition);
            return PrometheusText.Parse(server.Exposition);
        }
    }

    [Theory]
    [InlineData("inferserver_requests_total")]
    [InlineData("inferserver_tokens_generated_total")]
    [InlineData("inferserver_prompt_tokens_total")]
    [InlineData("inferserver_steps_total")]
    [InlineData("inferserver_rows_processed_total")]
    [InlineData("inferserver_adapter_loads_total")]
    [InlineData("inferserver_adapter_evictions_total")]
    [InlineData("inferserver_adapter_merges_total")]
    [InlineData("inferserver_prefix_cache_prompt_tokens_total")]
    [InlineData("inferserver_prefix_cache_cached_tokens_total")]
    public void EngineAndAdapterTotals_AreTypedCounter(string family)
    {
        var families = Families;

        Assert.True(families.Types.TryGetValue(family, out var type), $"{family} is not exported");
        Assert.Equal("counter", type);
        Assert.Contains(family, families.SampleNames);
    }

    [Fact]
    public void EveryCounter_EndsInTotal_AndNoOtherFamilyDoes()
    {
        var families = Families;

        Assert.All(families.Types.Where(family => family.Value == "counter"), family => Assert.EndsWith("_total", family.Key));
        Assert.All(families.Types.Where(family => family.Value != "counter"), family => Assert.False(family.Key.EndsWith("_total", StringComparison.Ordinal), family.Key));
    }

    [Theory]
    [InlineData("inferserver_time_to_first_token_seconds", "histogram")]
    [InlineData("inferserver_time_per_output_token_seconds", "histogram")]
    [InlineData("inferserver_request_duration_seconds", "histogram")]
    [InlineData("inferserver_queue_wait_seconds", "histogram")]
    [InlineData("inferserver_kv_cache_bytes", "gauge")]
    [InlineData("inferserver_adapters_device_bytes", "gauge")]
    [InlineData("inferserver_adapters_host_bytes", "gauge")]
    [InlineData("dotnet_gc_committed_bytes", "gauge")]
    [InlineData("dotnet_gc_heap_size_bytes", "gauge")]
    [InlineData("dotnet_gc_fragmented_bytes", "gauge")]
    public void QuantitiesWithUnits_CarryTheBaseUnitInTheName(string family, string type)
    {
        Assert.Equal(type, Families.Types.GetValueOrDefault(family));
    }

    [Fact]
    public void EveryInferServerFamily_HasHelpText()
    {
        var families = Families;
        var ours = families.Types.Keys.Where(name => name.StartsWith("inferserver_", StringComparison.Ordinal)).ToList();

        Assert.NotEmpty(ours);
        Assert.All(ours, name => Assert.False(string.IsNullOrWhiteSpace(families.Help.GetValueOrDefault(name)), $"{name} has no HELP"));
    }

    [Fact]
    public void NoPrivateRuntimeMetrics_AreExposed()
    {
        Assert.DoesNotContain("private_internaldiagnostics", server.Exposition, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void ModelServerProtocolMetrics_KeepTheirNames()
    {
        var families = Families;

        foreach (var gauge in new[] { "inferserver_queue_waiting", "inferserver_requests_running", "inferserver_kv_cache_usage", "inferserver_lora_requests_info",
                     "vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "vllm:lora_requests_info" })
            Assert.Equal("gauge", families.Types.GetValueOrDefault(gauge));
        // The LoRA info gauge describes the current state only: one series, not one per label set ever seen.
        Assert.Single(PrometheusText.Parse(server.Exposition).All("inferserver_lora_requests_info"));
    }
}
