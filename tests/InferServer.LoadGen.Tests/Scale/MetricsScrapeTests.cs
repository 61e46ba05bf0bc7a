using InferServer.LoadGen.Scale;

namespace InferServer.LoadGen.Tests.Scale;

public sealed class MetricsScrapeTests
{
    [Fact]
    public void Parse_SumsLoadsOverAdapters_CountsOnlyDeviceEvictions_AndReadsTheByteGauges()
    {
        const string exposition = """
            # HELP inferserver_adapter_loads_total Adapters read into memory.
            # TYPE inferserver_adapter_loads_total counter
            inferserver_adapter_loads_total{adapter="a"} 3
            inferserver_adapter_loads_total{adapter="other"} 4.5
            # TYPE inferserver_adapter_evictions_total counter
            inferserver_adapter_evictions_total{tier="device"} 7
            inferserver_adapter_evictions_total{tier="host"} 100
            # TYPE inferserver_adapters_host_bytes gauge
            inferserver_adapters_host_bytes 1048576
            inferserver_adapters_device_bytes 2e+06
            inferserver_adapter_loads_total_created 12345
            """;

        var scrape = MetricsScrape.Parse(exposition);

        Assert.Equal(new MetricsScrape(7.5, 7, 1048576, 2e6), scrape);
    }
}
