using System.Globalization;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// The server's resource gauges as /metrics exposes them (prometheus-net's names for the engine's Meter instruments,
/// EngineResourceMetrics), plus the process's resident set (prometheus-net's process_working_set_bytes, which on Linux is
/// RSS). Read over HTTP like an operator's dashboard, so the soak works the same against a server in another process.
/// </summary>
public sealed record ResourceSnapshot(IReadOnlyDictionary<string, double> Gauges)
{
    /// <summary>Gauges that must return exactly to their value before the traffic once it stops (all adapters unloaded both times).</summary>
    public static readonly IReadOnlyList<string> Returning =
    [
        "inferserver_tensors_live",
        "inferserver_kv_cache_blocks_in_use",
        "inferserver_adapters_host_pins",
        "inferserver_adapters_host_count",
        "inferserver_adapters_device_pinned",
        "inferserver_adapters_device_resident",
        "inferserver_adapters_device_resident_bytes",
        "inferserver_adapters_merged_count",
        "inferserver_adapters_merged_bytes",
        "inferserver_queue_waiting",
        "inferserver_requests_running",
    ];

    /// <summary>Gauges that are 0 whenever no request is in flight, whatever happened before.</summary>
    public static readonly IReadOnlyList<string> ZeroWhenIdle =
    [
        "inferserver_adapters_host_pins",
        "inferserver_adapters_device_pinned",
        "inferserver_queue_waiting",
        "inferserver_requests_running",
    ];

    public const string Faulted = "inferserver_engine_faulted";
    public const string Rss = "process_working_set_bytes";

    /// <summary>Memory the GC held after its last collection: what of an RSS change is the managed heap's, the rest is native.</summary>
    public const string GcCommitted = "dotnet_gc_committed_bytes";

    /// <summary>GC heap size and free space in it after the last collection; after a full one, their difference is the live managed data.</summary>
    public const string GcHeapSize = "dotnet_gc_heap_size_bytes";
    public const string GcFragmented = "dotnet_gc_fragmented_bytes";

    /// <summary>Live managed bytes as of the last collection (exact after a full one).</summary>
    public double GcLive => this[GcHeapSize] - this[GcFragmented];

    public double this[string name] => Gauges.TryGetValue(name, out var value) ? value : double.NaN;

    public static async Task<ResourceSnapshot> ReadAsync(HttpClient metrics, CancellationToken cancellationToken)
    {
        var text = await metrics.GetStringAsync("metrics", cancellationToken);
        return new ResourceSnapshot(Parse(text));
    }

    /// <summary>Prometheus text format: "name{labels} value" per line, # lines skipped; label sets of one name are summed.</summary>
    public static Dictionary<string, double> Parse(string text)
    {
        var gauges = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var nameEnd = line.IndexOfAny(['{', ' ']);
            var valueStart = line.LastIndexOf(' ');
            if (nameEnd <= 0 || valueStart < nameEnd) continue;
            if (!double.TryParse(line[(valueStart + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) continue;
            var name = line[..nameEnd];
            gauges[name] = gauges.GetValueOrDefault(name) + value;
        }
        return gauges;
    }

    /// <summary>Every gauge of <see cref="Returning"/> whose value differs from <paramref name="baseline"/>'s, as "name: before → now".</summary>
    public IReadOnlyList<string> DifferencesFrom(ResourceSnapshot baseline) =>
        Returning.Where(name => !this[name].Equals(baseline[name]))
            .Select(name => $"{name}: {baseline[name].ToString(CultureInfo.InvariantCulture)} -> {this[name].ToString(CultureInfo.InvariantCulture)}")
            .ToArray();

    public bool IsIdle => ZeroWhenIdle.All(name => this[name] == 0);
}
