namespace InferServer.AdapterStore;

/// <summary>Where an adapter currently lives, from coldest to hottest.</summary>
public enum AdapterTier
{
    /// <summary>Registered (a directory under a configured root) but not read yet.</summary>
    Disk,
    /// <summary>Parsed, validated and converted to the serving dtype in host memory.</summary>
    Host,
    /// <summary>Copied into a device slot of every pool it targets: batches can use it.</summary>
    Device,
    /// <summary>On the device and merged into copies of its target weights by the merge cache.</summary>
    Merged,
}
