using InferServer.AdapterStore;

namespace InferServer.Engine.Composition;

/// <summary>Where adapter lifecycle events (loads, evictions, merges from every tier) come from; the host's engine runtime.</summary>
public interface IAdapterEventSource
{
    /// <summary>Raised on the thread of the tier that changed.</summary>
    event EventHandler<AdapterEvent>? AdapterChanged;
}
