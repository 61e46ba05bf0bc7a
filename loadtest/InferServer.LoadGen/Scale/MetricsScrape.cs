using System.Globalization;

namespace InferServer.LoadGen.Scale;

/// <summary>
/// The server-side counters and gauges a scaling cell reports, read from /metrics (Prometheus text format): adapter
/// loads (disk to host), device-slot evictions (a slot rewritten for another adapter), adapter bytes by tier, and the
/// server process's CPU seconds (tokens per server CPU-second change far less with other load on a shared machine than
/// tokens per wall-clock second do).
/// </summary>
public sealed record MetricsScrape(double AdapterLoads, double DeviceEvictions, double HostBytes, double DeviceBytes, double CpuSeconds = 0)
{
    public static async Task<MetricsScrape> ReadAsync(HttpClient http, Uri metrics, CancellationToken cancellationToken)
    {
        var text = await http.GetStringAsync(metrics, cancellationToken);
        return Parse(text);
    }

    /// <summary>Sums every series of each family of interest (the loads counter is labelled by adapter).</summary>
    public static MetricsScrape Parse(string exposition)
    {
        double loads = 0, evictions = 0, host = 0, device = 0, cpu = 0;
        foreach (var line in exposition.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var nameEnd = line.IndexOfAny(['{', ' ']);
            var valueStart = line.LastIndexOf(' ');
            if (nameEnd <= 0 || valueStart < nameEnd) continue;
            var name = line[..nameEnd];
            var value = double.Parse(line[(valueStart + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
            switch (name)
            {
                case "inferserver_adapter_loads_total":
                    loads += value;
                    break;
                case "inferserver_adapter_evictions_total" when line.Contains("tier=\"device\"", StringComparison.Ordinal):
                    evictions += value;
                    break;
                case "inferserver_adapters_host_bytes":
                    host = value;
                    break;
                case "inferserver_adapters_device_bytes":
                    device = value;
                    break;
                case "process_cpu_seconds_total":
                    cpu = value;
                    break;
            }
        }
        return new MetricsScrape(loads, evictions, host, device, cpu);
    }
}
