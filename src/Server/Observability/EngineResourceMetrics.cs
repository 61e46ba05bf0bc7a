using System.Diagnostics.Metrics;
using InferServer.Engine;

namespace InferServer.Server.Observability;

/// <summary>
/// Gauges of what the engine holds: pins, slots, KV blocks, merged copies, live tensors, and whether it faulted. With
/// no traffic every one of them returns to its idle value; a value that creeps up under steady traffic is a leak. The
/// soak suite checks exactly that, through /metrics, as an operator's dashboard would.
/// </summary>
public sealed class EngineResourceMetrics
{
    public EngineResourceMetrics(IMeterFactory meterFactory, IInferenceEngine engine)
    {
        var meter = meterFactory.Create(InferServerTelemetry.Name);
        meter.CreateObservableGauge("engine.faulted", () => engine.Fault is null ? 0 : 1, "1",
            "1 once the engine loop failed for good (the server then stops and is restarted), else 0.");
        meter.CreateObservableGauge("kv_cache.blocks_in_use", () => engine.Status.KvBlocksInUse, "{block}",
            "KV-cache blocks owned by sequences.");
        meter.CreateObservableGauge("adapters.host_count", () => engine.Status.Adapters.HostAdapters, "{adapter}",
            "Adapters in host memory, pinned and draining ones included.");
        meter.CreateObservableGauge("adapters.host_pins", () => engine.Status.Adapters.HostPins, "{pin}",
            "Pins requests hold on adapters' host copies; 0 when no request is in flight.");
        meter.CreateObservableGauge("adapters.device_resident", () => engine.Status.Adapters.DeviceResident, "{slot}",
            "Device slots holding an adapter.");
        meter.CreateObservableGauge("adapters.device_pinned", () => engine.Status.Adapters.DevicePinned, "{slot}",
            "Device slots pinned by running requests; 0 when none runs.");
        meter.CreateObservableGauge("adapters.device_resident_bytes", () => engine.Status.Adapters.DeviceResidentBytes, "By",
            "Bytes of slot pools holding resident adapters.");
        meter.CreateObservableGauge("adapters.merged_count", () => engine.Status.Adapters.MergedAdapters, "{adapter}",
            "Adapters with cached merged weights.");
        meter.CreateObservableGauge("adapters.merged_bytes", () => engine.Status.Adapters.MergedBytes, "By",
            "Bytes of cached merged weights.");
        meter.CreateObservableGauge("tensors.live", () => TorchSharp.torch.Tensor.TotalCount, "{tensor}",
            "Live TorchSharp tensors in the process (weights, KV cache, pools, adapters, step temporaries).");
    }
}
