using InferServer.AdapterStore.Tiers;

namespace InferServer.AdapterStore.Registry;

/// <summary>One read of an adapter directory: reload creates a new version beside the old one.</summary>
internal sealed class AdapterVersion
{
    public AdapterVersion(AdapterRegistration owner, string directory)
    {
        Owner = owner;
        Directory = directory;
        Copy = new HostCopy(owner.Name);
    }

    public AdapterRegistration Owner { get; }

    public string Directory { get; }

    /// <summary>Its place in the host tier, which owns its pins and memory.</summary>
    public HostCopy Copy { get; }
}
