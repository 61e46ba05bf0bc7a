using InferServer.AdapterStore.Peft;

namespace InferServer.AdapterStore.Registry;

/// <summary>One read of an adapter directory: reload creates a new version beside the old one.</summary>
internal sealed class AdapterVersion
{
    public AdapterVersion(AdapterRegistration owner, string directory)
    {
        Owner = owner;
        Directory = directory;
    }

    public AdapterRegistration Owner { get; }

    public string Directory { get; }

    /// <summary>The shared in-flight (or finished) load; null on disk or after a failure or eviction.</summary>
    public Task<LoraAdapter>? Load { get; set; }

    public LoraAdapter? Adapter { get; set; }

    /// <summary>Requests (and loads) waiting for or using the host copy.</summary>
    public int RequestPins { get; set; }

    /// <summary>1 while a device slot holds it.</summary>
    public int DevicePins { get; set; }

    public int Pins => RequestPins + DevicePins;

    public bool Merged { get; set; }

    /// <summary>Unloaded or replaced by a reload: freed by its last unpin, never served to new requests.</summary>
    public bool Retired { get; set; }
}
