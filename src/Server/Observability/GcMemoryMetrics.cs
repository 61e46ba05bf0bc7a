using Prometheus;

namespace InferServer.Server.Observability;

/// <summary>
/// The garbage collector's own view of its memory at the end of the last collection, read from
/// <see cref="GC.GetGCMemoryInfo()"/> at scrape time, so that a growing resident set can be split into managed and native:
/// what the GC keeps committed from the OS, how big the heap was (fragmentation included), how much of it was free space,
/// and how many dead objects wait for their finalizer. prometheus-net's dotnet_total_memory_bytes also counts what was
/// allocated since the last collection, so it moves with the allocation rate, not with what is kept. After a full
/// blocking collection (the soak induces one before each RSS reading), heap size minus fragmentation is the live managed
/// data.
/// </summary>
public static class GcMemoryMetrics
{
    public static void Register(CollectorRegistry registry)
    {
        var metrics = Metrics.WithCustomRegistry(registry);
        var committed = metrics.CreateGauge("dotnet_gc_committed_bytes",
            "Memory the GC had committed from the OS at the end of the last collection.");
        var heap = metrics.CreateGauge("dotnet_gc_heap_size_bytes",
            "GC heap size at the end of the last collection, fragmentation included.");
        var fragmented = metrics.CreateGauge("dotnet_gc_fragmented_bytes",
            "Free space inside the GC heap at the end of the last collection.");
        var pending = metrics.CreateGauge("dotnet_gc_finalization_pending_objects",
            "Objects the last collection found dead that wait for their finalizer (they, and what they reference, stay in the heap until it has run).");
        registry.AddBeforeCollectCallback(() =>
        {
            var last = GC.GetGCMemoryInfo();
            committed.Set(last.TotalCommittedBytes);
            heap.Set(last.HeapSizeBytes);
            fragmented.Set(last.FragmentedBytes);
            pending.Set(last.FinalizationPendingCount);
        });
    }
}
