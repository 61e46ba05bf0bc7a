using InferServer.AdapterStore;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using InferServer.Engine;

namespace InferServer.Server.Observability;

/// <summary>
/// Every instrument of the "InferServer" Meter. OpenTelemetry reads the Meter and <see cref="PrometheusMeterBridge"/> exposes
/// it at /metrics; nothing is defined twice. Engine load is observed from <see cref="IInferenceEngine.Status"/> at
/// collection time (gauges, and counters for the engine's cumulative totals: tokens/s is rate(tokens_generated), mean
/// rows per step is rate(rows_processed)/rate(steps)). Instrument names carry no "inferserver." prefix: OTLP sends the
/// Meter name as the scope, and the bridge prefixes it, adds the unit and marks counters (inferserver_requests_total,
/// inferserver_time_to_first_token_seconds, inferserver_kv_cache_bytes).
/// </summary>
public sealed class InferServerMetrics
{
    private readonly Counter<long> requests;
    private readonly Histogram<double> timeToFirstToken;
    private readonly Histogram<double> timePerOutputToken;
    private readonly Histogram<double> requestDuration;
    private readonly Histogram<double> queueWait;
    private readonly Counter<long> adapterLoads;
    private readonly Counter<long> adapterEvictions;
    private readonly Counter<long> adapterMerges;
    private readonly Counter<long> prefixCachePromptTokens;
    private readonly Counter<long> prefixCacheCachedTokens;

    public InferServerMetrics(IMeterFactory meterFactory, IInferenceEngine engine)
    {
        var meter = meterFactory.Create(InferServerTelemetry.Name);
        requests = meter.CreateCounter<long>("requests", "{request}",
            "RPCs handled, by adapter (capped, see Observability:AdapterLabelLimit), rpc and gRPC status.");
        timeToFirstToken = meter.CreateHistogram<double>("time_to_first_token", "s",
            "From engine admission to the first generated token.");
        timePerOutputToken = meter.CreateHistogram<double>("time_per_output_token", "s",
            "Decode time divided by generated tokens after the first.");
        requestDuration = meter.CreateHistogram<double>("request.duration", "s",
            "End-to-end engine time of a generation, admission to last token.");
        queueWait = meter.CreateHistogram<double>("queue_wait", "s",
            "From admission to the first scheduled step (includes adapter loading).");
        adapterLoads = meter.CreateCounter<long>("adapter.loads", "{load}",
            "Adapters read into memory (admin loads and on-demand loads for requests).");
        adapterEvictions = meter.CreateCounter<long>("adapter.evictions", "{eviction}",
            "Adapters evicted from a tier.");
        adapterMerges = meter.CreateCounter<long>("adapter.merges", "{merge}",
            "Adapters merged into the weights by the merge cache.");

        prefixCachePromptTokens = meter.CreateCounter<long>("prefix_cache.prompt_tokens", "{token}",
            "Prompt tokens of finished generations, by adapter: the prefix cache hit rate's denominator.");
        prefixCacheCachedTokens = meter.CreateCounter<long>("prefix_cache.cached_tokens", "{token}",
            "Prompt tokens of finished generations whose keys and values came from the prefix cache, by adapter.");

        meter.CreateObservableGauge("queue.waiting", () => engine.Status.WaitingRequests, "{request}",
            "Requests queued, not yet scheduled.");
        meter.CreateObservableGauge("requests.running", () => engine.Status.RunningRequests, "{request}",
            "Requests with a sequence in the running batch.");
        meter.CreateObservableGauge("kv_cache.usage", () => engine.Status.KvCacheUsage, "1",
            "Fraction of KV-cache blocks in use.");
        meter.CreateObservableGauge("kv_cache.cached_blocks", () => engine.Status.KvBlocksCached, "{block}",
            "KV-cache blocks registered in the prefix cache, used now or idle (idle ones are evicted on demand).");
        meter.CreateObservableGauge("kv_cache.bytes", () => engine.Status.KvCacheBytes, "By",
            "Bytes held by the KV cache.");
        meter.CreateObservableGauge("adapters.device_bytes", () => engine.Status.DeviceAdapterBytes, "By",
            "Bytes of adapter slot pools on the device.");
        meter.CreateObservableGauge("adapters.host_bytes", () => engine.Status.HostAdapterBytes, "By",
            "Bytes of adapters in host memory.");
        meter.CreateObservableGauge("adapters.running", () => engine.Status.RunningAdapters.Count, "{adapter}",
            "Distinct adapters of running requests.");
        meter.CreateObservableGauge("adapters.max_device", () => engine.Status.MaxDeviceAdapters, "{adapter}",
            "Adapter slots on the device.");
        meter.CreateObservableCounter("steps", () => engine.Status.Steps, "{step}",
            "Model steps run.");
        meter.CreateObservableCounter("rows_processed", () => engine.Status.RowsProcessed, "{row}",
            "Sequences processed over all steps; divided by steps = mean rows per step.");
        meter.CreateObservableCounter("prompt_tokens", () => engine.Status.PromptTokensProcessed, "{token}",
            "Prompt tokens prefilled.");
        meter.CreateObservableCounter("tokens_generated", () => engine.Status.TokensGenerated, "{token}",
            "Tokens generated; rate() gives tokens per second.");
    }

    /// <summary>Counts one finished RPC.</summary>
    public void RequestCompleted(string adapterLabel, string rpc, string status) =>
        requests.Add(1, new("adapter", adapterLabel), new("rpc", rpc), new("status", status));

    /// <summary>Records a generation's latencies.</summary>
    public void GenerationFinished(string adapterLabel, GenerationFinished finished)
    {
        var tags = new TagList { { "adapter", adapterLabel }, { "served_from", ServedFromLabel(finished.ServedFrom) } };
        var timing = finished.Timing;
        var adapterTag = new KeyValuePair<string, object?>("adapter", adapterLabel);
        prefixCachePromptTokens.Add(finished.Usage.PromptTokens, adapterTag);
        prefixCacheCachedTokens.Add(finished.Usage.CachedPromptTokens, adapterTag);
        timeToFirstToken.Record(timing.TimeToFirstToken.TotalSeconds, tags);
        requestDuration.Record(timing.Total.TotalSeconds, tags);
        queueWait.Record(timing.QueueWait.TotalSeconds, tags);
        if (finished.Usage.CompletionTokens > 1)
        {
            timePerOutputToken.Record((timing.Total - timing.TimeToFirstToken).TotalSeconds / (finished.Usage.CompletionTokens - 1), tags);
        }
    }

    /// <summary>Counts one adapter lifecycle event of the store, the slot table or the merge cache.</summary>
    public void AdapterChanged(AdapterEvent change, string adapterLabel)
    {
        switch (change.Kind)
        {
            case AdapterEventKind.Loaded when change.Tier == AdapterTier.Host:
                AdapterLoaded(adapterLabel);
                break;
            case AdapterEventKind.Evicted:
                AdapterEvicted(change.Tier.ToString().ToLowerInvariant());
                break;
            case AdapterEventKind.Merged:
                AdapterMerged();
                break;
        }
    }

    /// <summary>Counts an adapter read from disk into host memory.</summary>
    private void AdapterLoaded(string adapterLabel) => adapterLoads.Add(1, new KeyValuePair<string, object?>("adapter", adapterLabel));

    /// <summary>Counts an eviction from <paramref name="tier"/> (fed by the adapter store's events).</summary>
    private void AdapterEvicted(string tier) => adapterEvictions.Add(1, new KeyValuePair<string, object?>("tier", tier));

    /// <summary>Counts a merge (fed by the merge cache).</summary>
    private void AdapterMerged() => adapterMerges.Add(1);

    /// <summary>The served_from label value.</summary>
    public static string ServedFromLabel(AdapterServedFrom servedFrom) => servedFrom switch
    {
        AdapterServedFrom.Base => "base",
        AdapterServedFrom.Device => "device",
        AdapterServedFrom.Loaded => "loaded",
        AdapterServedFrom.Merged => "merged",
        _ => "unknown",
    };
}
