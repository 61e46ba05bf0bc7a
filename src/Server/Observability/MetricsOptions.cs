namespace InferServer.Server.Observability;

/// <summary>Naming of the exposed metrics, bound from the "Metrics" section.</summary>
public sealed record MetricsOptions
{
    /// <summary>
    /// Also expose the model-server protocol metrics under vLLM's names (vllm:num_requests_waiting, vllm:num_requests_running,
    /// vllm:kv_cache_usage_perc, vllm:gpu_cache_usage_perc, vllm:lora_requests_info), which endpoint pickers read by default.
    /// Our inferserver_* names stay exposed either way.
    /// </summary>
    public bool VllmCompatibleNames { get; init; }

    /// <summary>
    /// Also serve /metrics on the OpenAI port. Off by default (/metrics belongs to the metrics port); the Kubernetes
    /// manifests turn it on because the Inference Extension's endpoint picker scrapes the InferencePool's target port.
    /// </summary>
    public bool ServeOnOpenAiPort { get; init; }
}
