namespace InferServer.AdapterStore.Registry;

/// <summary>A name's registration: where it is read from, its counters and its current version.</summary>
internal sealed class AdapterRegistration
{
    public AdapterRegistration(string name, string directory)
    {
        Name = name;
        Directory = directory;
        Current = new AdapterVersion(this, directory);
    }

    public string Name { get; }

    public string Directory { get; set; }

    /// <summary>True once a version loaded: a registration whose first load fails is dropped again.</summary>
    public bool Confirmed { get; set; }

    public long RequestsServed { get; set; }

    public DateTimeOffset? LastUsed { get; set; }

    public AdapterVersion Current { get; set; }
}
