using System.Diagnostics.Metrics;
using System.Globalization;
using InferServer.Server.Engine;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Observability;

/// <summary>
/// The metrics of the Gateway API Inference Extension's model-server protocol (proposal 003, "Metrics Reporting" and
/// "LoRA Adapter Serving"), which an endpoint picker scrapes to route: queued and running requests, KV-cache
/// utilisation, and the LoRA info gauge. Observable instruments on the one "InferServer" Meter, read from
/// <see cref="IInferenceEngine.Status"/> at scrape time. Names are ours (inferserver_*) unless
/// <see cref="MetricsOptions.VllmCompatibleNames"/> (Metrics:VllmCompatibleNames) asks for the vLLM names the reference picker reads by default.
/// The first three exist already in <see cref="InferServerMetrics"/> under our names; this adds the LoRA gauge, and the
/// vLLM-named set when asked.
/// </summary>
public sealed class ModelServerProtocolMetrics
{
    /// <summary>Our name of the LoRA info gauge (Prometheus: inferserver_lora_requests_info).</summary>
    public const string LoraInfoName = "inferserver.lora_requests_info";

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

    public ModelServerProtocolMetrics(IMeterFactory meterFactory, IInferenceEngine engine, IOptions<MetricsOptions> options)
    {
        var meter = meterFactory.Create(InferServerTelemetry.Name);
        meter.CreateObservableGauge(LoraInfoName, () => LoraInfo(engine.Status), "s",
            "Model-server protocol LoRA info: labels max_lora, running_lora_adapters, waiting_lora_adapters (comma-separated); "
            + "value = Unix time of the engine status they describe, so a scraper takes the series with the largest value.");
        if (!options.Value.VllmCompatibleNames) return;
        meter.CreateObservableGauge(Vllm.Waiting, () => engine.Status.WaitingRequests, description: "Requests queued, not yet scheduled.");
        meter.CreateObservableGauge(Vllm.Running, () => engine.Status.RunningRequests, description: "Requests with a sequence in the running batch.");
        meter.CreateObservableGauge(Vllm.KvCacheUsage, () => engine.Status.KvCacheUsage, description: "KV-cache usage, 0..1 (1 = full).");
        meter.CreateObservableGauge(Vllm.GpuCacheUsage, () => engine.Status.KvCacheUsage, description: "KV-cache usage, 0..1 (older vLLM name).");
        meter.CreateObservableGauge(Vllm.LoraInfo, () => LoraInfo(engine.Status), description:
            "LoRA info (labels max_lora, running_lora_adapters, waiting_lora_adapters); value = Unix time of the status.");
    }

    /// <summary>One measurement: the status time, labelled with the adapter slots and the adapters in use and waiting.</summary>
    public static Measurement<double> LoraInfo(EngineStatus status) => new(
        status.UpdatedAt.ToUnixTimeMilliseconds() / 1000.0,
        new KeyValuePair<string, object?>(LoraLabels.MaxLora, status.MaxDeviceAdapters.ToString(CultureInfo.InvariantCulture)),
        new KeyValuePair<string, object?>(LoraLabels.Running, string.Join(',', status.RunningAdapters)),
        new KeyValuePair<string, object?>(LoraLabels.Waiting, string.Join(',', status.WaitingAdapters)));
}
