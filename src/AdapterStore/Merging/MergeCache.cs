using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Tiers;
using InferServer.Kernels.Lora;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.AdapterStore.Merging;

/// <summary>
/// Serves batches of one hot adapter on merged weights W = W0 + s·B·A (LoRA, Hu et al. 2021, §4.1: "no additional
/// inference latency"), so such a batch pays nothing for the adapter; mixed batches keep using the slot pools (Punica/S-LoRA).
/// </summary>
/// <remarks>
/// <para>
/// Engine thread only: <see cref="Activate"/> and <see cref="Deactivate"/> switch the weights that the next forward reads,
/// so they run between steps on the thread that runs the steps. No locks.
/// </para>
/// <para>
/// Copies, not in-place merges. Each merged module is a separate tensor made by <see cref="LoraOps.Merge"/> (rounded once from
/// a float32 product); W0 is never written, so unmerging is <c>SetMergedWeight(null)</c> and gives back W0 bit for bit, however
/// often adapters are switched. The in-place alternative (W0 += s·B·A, later W0 -= s·B·A, as PEFT's <c>merge</c>/<c>unmerge</c>
/// do) would save the memory but leaves rounding residue in bf16/fp16 that accumulates with every switch
/// (docs/architecture.md, "Merge cache keeps copies"). Cost: one copy of every matrix the adapter targets per cached adapter, bounded by
/// <see cref="AdapterStoreOptions.MergeMaxAdapters"/> with LRU eviction of cached copies (<see cref="MergedBytes"/>).
/// </para>
/// <para>
/// Hotness: an adapter is hot when it was named by at least <see cref="AdapterStoreOptions.MergeMinShare"/> of the last
/// <see cref="AdapterStoreOptions.MergeWindow"/> requests (the denominator is the full window, so a cold start with a handful of
/// requests merges nothing). The engine merges only when its next batch consists solely of rows of one hot adapter, so
/// a step is never split into merged and unmerged passes.
/// </para>
/// <para>
/// Merging costs a full copy of every targeted matrix, and switching between cached copies is free, so
/// <see cref="ShouldMerge"/> only computes a new copy when it will be used for long: an adapter stays mergeable until its
/// share falls below <see cref="CoolingFactor"/> of MergeMinShare (hysteresis), and a new hot adapter displaces a cached
/// copy only after that copy's adapter has cooled. Without this, two adapters near the threshold (a 50/50 mix with the
/// default MergeMinShare 0.5 and one cached copy) would evict each other's copy and re-merge at every alternation.
/// </para>
/// </remarks>
public sealed class MergeCache : IDisposable
{
    /// <summary>A merged adapter stays mergeable while its share is at least this fraction of MergeMinShare.</summary>
    public const double CoolingFactor = 0.75;

    private readonly IReadOnlyDictionary<string, ILoraTarget> targets;
    private readonly AdapterStoreOptions options;
    private readonly IAdapterResidency? residency;
    private readonly ILogger logger;
    private readonly string?[] window;
    private readonly Dictionary<string, int> counts = new(StringComparer.Ordinal);
    // Cached merged weight sets, least recently activated first.
    private readonly LinkedList<MergedSet> cache = new();
    private int next;
    private MergedSet? active;
    private bool disposed;

    /// <param name="targets">The model's adaptable projections by module path.</param>
    /// <param name="options">MergeEnabled, MergeMinShare, MergeWindow, MergeMaxAdapters.</param>
    /// <param name="residency">The host tier, told when an adapter is merged (its tier becomes Merged); null in isolation.</param>
    /// <param name="logger">Reports failing event handlers.</param>
    public MergeCache(
        IReadOnlyDictionary<string, ILoraTarget> targets, AdapterStoreOptions options, IAdapterResidency? residency = null, ILogger<MergeCache>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MergeWindow, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MergeMaxAdapters, 1);
        this.targets = targets;
        this.options = options;
        this.residency = residency;
        this.logger = logger ?? NullLogger<MergeCache>.Instance;
        window = new string?[options.MergeWindow];
    }

    /// <summary>Merged (tier Merged) and Unmerged events.</summary>
    public event EventHandler<AdapterEvent>? Changed;

    /// <summary>The adapter whose merged weights the targets use now, if any.</summary>
    public LoraAdapter? Active => active?.Adapter;

    /// <summary>Adapters with cached merged weights.</summary>
    public int CachedCount => cache.Count;

    /// <summary>Bytes of cached merged weights.</summary>
    public long MergedBytes => cache.Sum(set => set.Bytes);

    /// <summary>Counts one request for adapter <paramref name="name"/> (null: the base model) in the sliding window.</summary>
    public void RecordRequest(string? name)
    {
        if (window[next] is { } leaving && --counts[leaving] == 0)
        {
            counts.Remove(leaving);
        }

        window[next] = name;
        if (name is not null)
        {
            counts[name] = counts.GetValueOrDefault(name) + 1;
        }

        next = (next + 1) % window.Length;
    }

    /// <summary>The adapter's share of the last MergeWindow requests.</summary>
    public double ShareOf(string name) => (double)counts.GetValueOrDefault(name) / window.Length;

    /// <summary>True when merging is enabled and the adapter's share reaches MergeMinShare.</summary>
    public bool IsHot(string name) => options.MergeEnabled && ShareOf(name) >= options.MergeMinShare;

    /// <summary>
    /// Whether a batch of only <paramref name="adapter"/>'s rows should run merged: it has a cached copy and has not cooled
    /// (share ≥ CoolingFactor·MergeMinShare), or it is hot and a copy can be made without evicting one whose adapter is
    /// still warm. Engine thread only.
    /// </summary>
    public bool ShouldMerge(LoraAdapter adapter)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        if (!options.MergeEnabled)
        {
            return false;
        }

        if (cache.Any(set => set.Adapter == adapter))
        {
            return !HasCooled(adapter);
        }

        // Activate evicts the least recently activated copy when the cache is full.
        return IsHot(adapter.Name) && (cache.Count < options.MergeMaxAdapters || HasCooled(cache.First!.Value.Adapter));
    }

    /// <summary>
    /// Points every module <paramref name="adapter"/> targets at its merged weight (computed now, or taken from the cache)
    /// until <see cref="Deactivate"/>. The next batch must contain only rows of this adapter, run without a LoRA batch.
    /// The caller holds a pin on <paramref name="adapter"/>'s host copy. Engine thread only.
    /// </summary>
    public void Activate(LoraAdapter adapter)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!options.MergeEnabled)
        {
            throw new InvalidOperationException("Merging is disabled (MergeEnabled is false).");
        }

        if (active?.Adapter == adapter)
        {
            return;
        }

        Deactivate();
        var set = cache.FirstOrDefault(candidate => candidate.Adapter == adapter) ?? Merge(adapter);
        cache.Remove(set);
        cache.AddLast(set);
        EvictCached();
        foreach (var (module, weight) in set.Weights)
        {
            targets[module].SetMergedWeight(weight);
        }

        active = set;
        residency?.MergedChanged(adapter, merged: true);
        Raise(new AdapterEvent(AdapterEventKind.Merged, adapter.Name, AdapterTier.Merged, set.Bytes));
    }

    /// <summary>Restores W0 in every module (never modified, so bit for bit); the merged copies stay cached. Engine thread only.</summary>
    public void Deactivate()
    {
        if (active is not { } set)
        {
            return;
        }

        foreach (var module in set.Weights.Keys)
        {
            targets[module].SetMergedWeight(null);
        }

        active = null;
        residency?.MergedChanged(set.Adapter, merged: false);
        Raise(new AdapterEvent(AdapterEventKind.Unmerged, set.Adapter.Name, AdapterTier.Merged, set.Bytes));
    }

    /// <summary>Drops the cached copies of <paramref name="adapter"/> (after an unload or reload), restoring W0 first if it is active.</summary>
    public void Forget(LoraAdapter adapter)
    {
        if (active?.Adapter == adapter)
        {
            Deactivate();
        }

        if (cache.FirstOrDefault(set => set.Adapter == adapter) is { } cached)
        {
            cache.Remove(cached);
            cached.Dispose();
        }
    }

    /// <summary>
    /// Drops the cached copies of every unloaded or replaced adapter; the active one only when
    /// <paramref name="includeActive"/> (no running request uses it any more), restoring W0 first. Engine thread only.
    /// </summary>
    public void ForgetRetired(bool includeActive)
    {
        if (residency is null)
        {
            return;
        }

        if (includeActive && active is { } current && residency.IsRetired(current.Adapter))
        {
            Deactivate();
        }

        foreach (var set in cache.Where(set => set != active && residency.IsRetired(set.Adapter)).ToList())
        {
            cache.Remove(set);
            set.Dispose();
        }
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        Deactivate();
        disposed = true;
        foreach (var set in cache)
        {
            set.Dispose();
        }

        cache.Clear();
    }

    private bool HasCooled(LoraAdapter adapter) =>
        ShareOf(adapter.Name) < options.MergeMinShare * CoolingFactor || residency?.IsRetired(adapter) == true;

    private MergedSet Merge(LoraAdapter adapter)
    {
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using var noGrad = torch.no_grad();
            foreach (var (module, lora) in adapter.Modules)
            {
                // Detached: the engine may call this inside a step's dispose scope, and the copy must outlive the step.
                using var scope = torch.NewDisposeScope();
                var merged = lora.Dora is { } dora
                    ? LoraOps.MergeDora(targets[module].Weight, lora.A, lora.B, lora.Scale, dora.RowScale())
                    : LoraOps.Merge(targets[module].Weight, lora.A, lora.B, lora.Scale);
                weights.Add(module, merged.DetachFromDisposeScope());
            }
        }
        catch
        {
            foreach (var weight in weights.Values)
            {
                weight.Dispose();
            }

            throw;
        }

        return new MergedSet(adapter, weights);
    }

    /// <summary>Drops least recently activated sets beyond MergeMaxAdapters, and any set of a retired adapter; never the newest.</summary>
    private void EvictCached()
    {
        var node = cache.First;
        while (node is not null && node != cache.Last)
        {
            var following = node.Next;
            if (cache.Count > options.MergeMaxAdapters || residency?.IsRetired(node.Value.Adapter) == true)
            {
                cache.Remove(node);
                node.Value.Dispose();
            }

            node = following;
        }
    }

    private void Raise(AdapterEvent adapterEvent) => AdapterEventQueue.RaiseNow(logger, this, Changed, adapterEvent);

    /// <summary>One adapter's merged copies, by module path.</summary>
    private sealed class MergedSet(LoraAdapter adapter, Dictionary<string, Tensor> weights) : IDisposable
    {
        public LoraAdapter Adapter { get; } = adapter;

        public IReadOnlyDictionary<string, Tensor> Weights { get; } = weights;

        public long Bytes { get; } = weights.Values.Sum(weight => weight.numel() * weight.element_size());

        public void Dispose()
        {
            foreach (var weight in Weights.Values)
            {
                weight.Dispose();
            }
        }
    }
}
