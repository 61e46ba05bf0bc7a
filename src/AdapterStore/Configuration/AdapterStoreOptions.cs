namespace InferServer.AdapterStore.Configuration;

/// <summary>
/// How the adapter store finds, holds and merges adapters; bound from configuration by the server
/// (<c>AddOptionsWithValidateOnStart</c>, with <see cref="Validate"/> behind an <c>IValidateOptions</c>). The serving dtype
/// and device are not options: they are the base model's.
/// </summary>
public sealed record AdapterStoreOptions
{
    /// <summary>Directories whose subdirectories are adapters named after them (<c>root/N</c> serves adapter N), found lazily on first request.</summary>
    public IReadOnlyList<string> AdapterRoots { get; init; } = [];

    /// <summary>Directories an explicit load may point into; empty means <see cref="AdapterRoots"/>.</summary>
    public IReadOnlyList<string> AllowedLoadRoots { get; init; } = [];

    /// <summary>Adapter names loaded into host memory at start (a misconfigured one fails the start).</summary>
    public IReadOnlyList<string> Preload { get; init; } = [];

    /// <summary>At most this many unpinned adapters stay in host memory (vLLM <c>max_cpu_loras</c>).</summary>
    public int HostMaxAdapters { get; init; } = 64;

    /// <summary>At most this many bytes of unpinned adapters stay in host memory.</summary>
    public long HostMaxBytes { get; init; } = 2L << 30;

    /// <summary>
    /// Device slots for adapters, slot 0 ("no adapter") not counted (vLLM <c>max_loras</c>); 0 = automatic: as many as the
    /// distinct adapters one step can name (Engine:MaxBatchRows), as far as <see cref="DeviceSlotBytes"/> allows
    /// (<see cref="Tiers.DeviceSlotSizing"/>). An explicit count wins over both.
    /// </summary>
    public int DeviceSlots { get; init; }

    /// <summary>
    /// The automatic slot count's memory bound: the pools may never exceed this many bytes, counted as if every adapter
    /// targeted every adaptable module at <see cref="MaxRank"/> (slot 0 included). Not used when <see cref="DeviceSlots"/> is set.
    /// </summary>
    public long DeviceSlotBytes { get; init; } = 2L << 30;

    /// <summary>The padded rank of the device pools (S-LoRA's unified pool); adapters with a larger rank are refused.</summary>
    public int MaxRank { get; init; } = 64;

    /// <summary>Whether batches of one hot adapter run on merged weights.</summary>
    public bool MergeEnabled { get; init; } = true;

    /// <summary>An adapter is hot when it served at least this share of the last <see cref="MergeWindow"/> requests.</summary>
    public double MergeMinShare { get; init; } = 0.5;

    /// <summary>Requests the hotness share is counted over.</summary>
    public int MergeWindow { get; init; } = 256;

    /// <summary>Merged weight sets kept at once; each costs a copy of every matrix the adapter targets.</summary>
    public int MergeMaxAdapters { get; init; } = 1;

    /// <summary>
    /// The served base's name as adapters record it in <c>base_model_name_or_path</c> (a hub id such as
    /// <c>meta-llama/Llama-3.2-1B</c>); empty = unnamed, no check.
    /// </summary>
    public string BaseModelName { get; init; } = "";

    /// <summary>What to do with an adapter trained on another base than <see cref="BaseModelName"/>: warn (default) or refuse.</summary>
    public BaseModelCheck BaseModelCheck { get; init; } = BaseModelCheck.Warn;

    /// <summary><see cref="AllowedLoadRoots"/>, or <see cref="AdapterRoots"/> when none are configured.</summary>
    public IReadOnlyList<string> EffectiveAllowedLoadRoots => AllowedLoadRoots.Count > 0 ? AllowedLoadRoots : AdapterRoots;

    /// <summary>Every problem with these options (empty when they are usable), so that one start reports them all.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        foreach (var (key, roots) in new[] { (nameof(AdapterRoots), AdapterRoots), (nameof(AllowedLoadRoots), AllowedLoadRoots) })
        {
            foreach (var root in roots)
            {
                if (string.IsNullOrWhiteSpace(root))
                {
                    problems.Add($"{key} contains an empty path");
                }
                else if (!Directory.Exists(root))
                {
                    problems.Add($"{key}: directory '{root}' does not exist");
                }
            }
        }

        foreach (var name in Preload)
        {
            if (AdapterNames.Check(name) is { } reason)
            {
                problems.Add($"{nameof(Preload)}: '{name}' is not a valid adapter name ({reason})");
            }
        }

        if (Preload.Count > 0 && AdapterRoots.Count == 0)
        {
            problems.Add($"{nameof(Preload)} names adapters but no {nameof(AdapterRoots)} are configured to find them in");
        }

        Positive(problems, nameof(HostMaxAdapters), HostMaxAdapters);
        Positive(problems, nameof(HostMaxBytes), HostMaxBytes);
        if (DeviceSlots < 0)
        {
            problems.Add($"{nameof(DeviceSlots)} {DeviceSlots} must not be negative (0 = automatic)");
        }

        Positive(problems, nameof(DeviceSlotBytes), DeviceSlotBytes);
        Positive(problems, nameof(MaxRank), MaxRank);
        Positive(problems, nameof(MergeWindow), MergeWindow);
        Positive(problems, nameof(MergeMaxAdapters), MergeMaxAdapters);
        if (!(MergeMinShare > 0 && MergeMinShare <= 1))
        {
            problems.Add($"{nameof(MergeMinShare)} {MergeMinShare} must be in (0, 1]");
        }

        if (Preload.Count > HostMaxAdapters)
        {
            problems.Add($"{nameof(Preload)} lists {Preload.Count} adapters but {nameof(HostMaxAdapters)} is {HostMaxAdapters}: some would be evicted at once");
        }

        return problems;
    }

    private static void Positive(List<string> problems, string key, long value)
    {
        if (value <= 0)
        {
            problems.Add($"{key} {value} must be positive");
        }
    }
}
