namespace InferServer.AdapterStore;

/// <summary>What happened to an adapter, for metrics and logs.</summary>
public enum AdapterEventKind
{
    /// <summary>Read into host memory (tier Host) or written into a device slot (tier Device).</summary>
    Loaded,
    /// <summary>A host load failed; <see cref="AdapterEvent.Error"/> says why.</summary>
    LoadFailed,
    /// <summary>Dropped from a tier to make room, or freed after an unload once its last user let go.</summary>
    Evicted,
    /// <summary>Merged weights are now in use.</summary>
    Merged,
    /// <summary>The base weights are back in use.</summary>
    Unmerged,
    /// <summary>Unregistered by an admin call; memory follows when running requests finish.</summary>
    Unloaded,
}
