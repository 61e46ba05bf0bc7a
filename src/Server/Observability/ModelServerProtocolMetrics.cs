using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using InferServer.Engine;

namespace InferServer.Server.Observability;

/// <summary>
/// The metrics of the Gateway API Inference Extension's model-server protocol (proposal 003, "Metrics Reporting" and
/// "LoRA Adapter Serving"), which an endpoint picker scrapes to route. Under our names they are observable instruments of
/// the one "InferServer" Meter, read from <see cref="IInferenceEngine.Status"/> at scrape time: queued requests
/// (inferserver_queue_waiting), running requests (inferserver_requests_running) and KV-cache use (inferserver_kv_cache_usage)
/// are <see cref="InferServerMetrics"/>' gauges; this adds the LoRA info gauge, inferserver_lora_requests_info.
/// <para>
/// The vLLM names that pickers read by default contain a colon (vllm:num_requests_waiting), which prometheus-net refuses in
/// any metric name, so <see cref="WriteVllmExposition"/> writes them in the text format itself from the same status; the
/// /metrics middleware appends them when Metrics:VllmCompatibleNames is set (<see cref="VllmCompatibleMetrics"/>).
/// </para>
/// </summary>
public sealed class ModelServerProtocolMetrics
{
    /// <summary>Instrument name of the LoRA info gauge (Prometheus: inferserver_lora_requests_info).</summary>
    public const string LoraInfoInstrument = "lora_requests_info";

    /// <summary>vLLM's names, as the protocol's table and the reference endpoint picker's defaults give them.</summary>
    public static class Vllm
    {
        public const string Waiting = "vllm:num_requests_waiting";
        public const string Running = "vllm:num_requests_running";
        /// <summary>The name proposal 003 lists and current pickers read by default (vLLM V1).</summary>
        public const string KvCacheUsage = "vllm:kv_cache_usage_perc";
        /// <summary>The older vLLM name, still read by pickers configured for vLLM V0.</summary>
        public const string GpuCacheUsage = "vllm:gpu_cache_usage_perc";
        public const string LoraInfo = "vllm:lora_requests_info";
    }

    /// <summary>Label names of the LoRA info gauge, as the protocol fixes them.</summary>
    public static class LoraLabels
    {
        public const string MaxLora = "max_lora";
        public const string Running = "running_lora_adapters";
        public const string Waiting = "waiting_lora_adapters";
    }

    public ModelServerProtocolMetrics(IMeterFactory meterFactory, IInferenceEngine engine)
    {
        var meter = meterFactory.Create(InferServerTelemetry.Name);
        meter.CreateObservableGauge(LoraInfoInstrument, () => LoraInfo(engine.Status), "s",
            "Model-server protocol LoRA info: labels max_lora, running_lora_adapters, waiting_lora_adapters (comma-separated); "
            + "value = Unix time of the engine status they describe, so a scraper takes the series with the largest value.");
    }

    /// <summary>One measurement: the status time, labelled with the adapter slots and the adapters in use and waiting.</summary>
    public static Measurement<double> LoraInfo(EngineStatus status) => new(
        StatusTime(status),
        new KeyValuePair<string, object?>(LoraLabels.MaxLora, status.MaxDeviceAdapters.ToString(CultureInfo.InvariantCulture)),
        new KeyValuePair<string, object?>(LoraLabels.Running, string.Join(',', status.RunningAdapters)),
        new KeyValuePair<string, object?>(LoraLabels.Waiting, string.Join(',', status.WaitingAdapters)));

    /// <summary>
    /// The protocol's metrics under vLLM's names in the Prometheus text format (also valid OpenMetrics), each labelled
    /// model_name as vLLM labels them. KV-cache use is a fraction 0..1, as vLLM reports it despite "perc" in the name.
    /// </summary>
    public static void WriteVllmExposition(StringBuilder text, EngineStatus status, string modelName)
    {
        var model = $"model_name=\"{Escape(modelName)}\"";
        Gauge(text, Vllm.Waiting, "Requests queued, not yet scheduled.", model, status.WaitingRequests);
        Gauge(text, Vllm.Running, "Requests with a sequence in the running batch.", model, status.RunningRequests);
        Gauge(text, Vllm.KvCacheUsage, "KV-cache usage, 0..1 (1 = full).", model, status.KvCacheUsage);
        Gauge(text, Vllm.GpuCacheUsage, "KV-cache usage, 0..1 (older vLLM name).", model, status.KvCacheUsage);
        var lora = $"{LoraLabels.MaxLora}=\"{status.MaxDeviceAdapters.ToString(CultureInfo.InvariantCulture)}\","
            + $"{LoraLabels.Running}=\"{Escape(string.Join(',', status.RunningAdapters))}\","
            + $"{LoraLabels.Waiting}=\"{Escape(string.Join(',', status.WaitingAdapters))}\"";
        Gauge(text, Vllm.LoraInfo, "Running and waiting LoRA adapters; value = Unix time of the status.", lora, StatusTime(status));
    }

    private static double StatusTime(EngineStatus status) => status.UpdatedAt.ToUnixTimeMilliseconds() / 1000.0;

    private static void Gauge(StringBuilder text, string name, string help, string labels, double value) => text
        .Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
        .Append("# TYPE ").Append(name).Append(" gauge\n")
        .Append(name).Append('{').Append(labels).Append("} ").Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

    // Text format: label values escape backslash, double quote and line feed.
    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
