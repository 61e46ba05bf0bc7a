namespace InferServer.AdapterStore.Peft;

/// <summary>
/// A validated LoRA adapter in host memory, in the dtype it was loaded as. Owns its tensors: dispose it to free them.
/// </summary>
public sealed class LoraAdapter : IDisposable
{
    private static long LastInstanceId;
    private volatile bool disposed;

    internal LoraAdapter(
        string name,
        string directory,
        PeftLoraConfig config,
        IReadOnlyDictionary<string, LoraModuleWeights> modules,
        LoraClassifierHead? classifier)
    {
        Name = name;
        Directory = directory;
        Config = config;
        Modules = modules;
        Classifier = classifier;
        TotalBytes = modules.Values.Sum(m => Bytes(m.A) + Bytes(m.B) + (m.Dora is { } dora ? Bytes(dora.Magnitude) + Bytes(dora.WeightNorm) : 0))
            + (classifier is null ? 0 : Bytes(classifier.Weight) + (classifier.Bias is null ? 0 : Bytes(classifier.Bias)));
    }

    public string Name { get; }

    /// <summary>
    /// Unique among every copy read in this process (never 0): a reload, or a re-read after host eviction, is a new copy
    /// with a new id. The engine's prefix cache keys KV blocks on it, so blocks computed with one copy never serve another.
    /// </summary>
    public long InstanceId { get; } = Interlocked.Increment(ref LastInstanceId);

    /// <summary>True once disposed (its tier let it go); any thread.</summary>
    public bool IsDisposed => disposed;

    public string Directory { get; }

    public PeftLoraConfig Config { get; }

    /// <summary>Adapted modules keyed by their path in the base model.</summary>
    public IReadOnlyDictionary<string, LoraModuleWeights> Modules { get; }

    public LoraClassifierHead? Classifier { get; }

    /// <summary>Bytes held by all tensors, for the host tier's budget.</summary>
    public long TotalBytes { get; }

    /// <summary>The largest module rank: the slot rank this adapter needs.</summary>
    public int MaxRank => Modules.Count == 0 ? 0 : Modules.Values.Max(m => m.Rank);

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        foreach (var module in Modules.Values)
        {
            module.A.Dispose();
            module.B.Dispose();
            module.Dora?.Magnitude.Dispose();
            module.Dora?.WeightNorm.Dispose();
        }

        Classifier?.Weight.Dispose();
        Classifier?.Bias?.Dispose();
    }

    private static long Bytes(TorchSharp.torch.Tensor tensor) => tensor.numel() * tensor.element_size();
}
