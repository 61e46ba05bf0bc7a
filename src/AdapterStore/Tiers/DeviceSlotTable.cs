using InferServer.AdapterStore.Peft;
using InferServer.Kernels.Lora;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.AdapterStore.Tiers;

/// <summary>
/// The device tier: which adapter sits in which slot of the model's LoRA slot pools (vLLM <c>lora_index_to_id</c>, S-LoRA's
/// unified pool at padded rank <c>MaxRank</c>), with an LRU over unpinned slots and a pin count per slot.
/// </summary>
/// <remarks>
/// <para>
/// Eviction happens only in <see cref="TryAcquire"/>, which the schedulers call while planning, between steps; it takes a
/// free slot first, else the unpinned slot least recently used, where a slot is used from its acquire until its last
/// release (a pinned slot is in every step of the requests pinning it). Every row of a step belongs to a request that
/// pins its slot, so a slot the step being built uses is never the victim: slots are never swapped inside a step.
/// </para>
/// <para>
/// Engine thread only. It writes into the pools that the model reads during forward, so it must run between steps on the
/// thread that runs them; it takes no locks, and the first thread that uses it owns it (another thread gets an
/// InvalidOperationException).
/// </para>
/// <para>
/// A pool is created per module the first time a resident adapter targets it and attached with <c>target.Pool</c>; modules no
/// adapter targets cost no memory. Evicting clears the slot in every pool (vLLM <c>reset_lora</c>) and writing zeroes
/// before copying (<c>set_lora</c>), so a row of that slot adds nothing in modules its adapter does not target and no
/// earlier adapter's weights survive.
/// </para>
/// <para>
/// <see cref="TryAcquire"/> never fails a request for lack of room: it returns false when every slot is pinned, and the
/// engine keeps the request waiting until a <see cref="Release"/>. A slot whose adapter was unloaded or replaced is freed
/// as soon as its last pin goes (drain), or by <see cref="FreeRetired"/> if it was already idle.
/// </para>
/// </remarks>
public sealed class DeviceSlotTable : IDisposable
{
    private readonly IReadOnlyDictionary<string, ILoraTarget> targets;
    private readonly ScalarType dtype;
    private readonly Device device;
    private readonly IAdapterResidency? residency;
    private readonly ILogger logger;
    private readonly Dictionary<string, LoraSlotPool> pools = new(StringComparer.Ordinal);
    private readonly SlotState[] slots;
    private readonly Dictionary<LoraAdapter, int> slotByAdapter = new(ReferenceEqualityComparer.Instance);
    private long useClock;
    private int ownerThread;
    private bool disposed;

    /// <param name="targets">The model's adaptable projections by module path (the keys of <see cref="BaseModelSpec.Modules"/>).</param>
    /// <param name="deviceSlots">Usable slots; the pools get one more, slot 0, which stays all zeros ("no adapter").</param>
    /// <param name="maxRank">The pools' padded rank.</param>
    /// <param name="dtype">The model's dtype.</param>
    /// <param name="device">The model's device.</param>
    /// <param name="residency">The host tier: each slot pins its adapter's host copy there while resident; null in isolation.</param>
    /// <param name="logger">Reports failing event handlers.</param>
    public DeviceSlotTable(
        IReadOnlyDictionary<string, ILoraTarget> targets,
        int deviceSlots,
        int maxRank,
        ScalarType dtype,
        Device device,
        IAdapterResidency? residency = null,
        ILogger<DeviceSlotTable>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(deviceSlots, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRank, 1);
        this.targets = targets;
        this.dtype = dtype;
        this.device = device;
        this.residency = residency;
        this.logger = logger ?? NullLogger<DeviceSlotTable>.Instance;
        DeviceSlots = deviceSlots;
        MaxRank = maxRank;
        slots = new SlotState[deviceSlots + 1];
        for (var slot = 0; slot < slots.Length; slot++)
        {
            slots[slot] = new SlotState();
        }
    }

    /// <summary>Usable slots, numbered 1..DeviceSlots.</summary>
    public int DeviceSlots { get; }

    public int MaxRank { get; }

    /// <summary>Adapters written into a slot (Loaded, tier Device) or dropped from one (Evicted, tier Device).</summary>
    public event EventHandler<AdapterEvent>? Changed;

    /// <summary>The pools created so far, by module path.</summary>
    public IReadOnlyDictionary<string, LoraSlotPool> Pools => pools;

    /// <summary>Bytes the pools occupy on the device (every slot, slot 0 included, at the padded rank).</summary>
    public long DeviceBytes => pools.Values.Sum(pool => pool.BytesPerSlot * pool.Slots);

    /// <summary>Slots that hold an adapter, pinned or not.</summary>
    public int ResidentCount => slotByAdapter.Count;

    /// <summary>Bytes of the pools' slots that hold an adapter (each at the padded rank, in the modules it targets).</summary>
    public long ResidentBytes => slotByAdapter.Keys.Sum(SlotBytes);

    /// <summary>True while some slot still holds an unloaded or replaced adapter (pinned by a draining request).</summary>
    public bool HoldsRetired() => residency is not null && slotByAdapter.Keys.Any(residency.IsRetired);

    /// <summary>Slots that some running request pins.</summary>
    public int PinnedCount => slots.Count(slot => slot.Pins > 0);

    /// <summary>The adapter in <paramref name="slot"/>, or null when it is free.</summary>
    public LoraAdapter? AdapterIn(int slot) => slots[CheckSlot(slot)].Adapter;

    /// <summary>Running requests pinning <paramref name="slot"/>.</summary>
    public int PinsOf(int slot) => slots[CheckSlot(slot)].Pins;

    /// <summary>The slot holding <paramref name="adapter"/>, or 0 when it is not resident.</summary>
    public int SlotOf(LoraAdapter adapter) => slotByAdapter.GetValueOrDefault(adapter);

    /// <summary>
    /// Pins a slot holding <paramref name="adapter"/> for one request, writing it into a free slot, or over the least
    /// recently used unpinned one, if it is not resident (<paramref name="loadedNow"/> true). False, with slot 0, when every
    /// slot is pinned: the request waits for a <see cref="Release"/>. Engine thread only.
    /// </summary>
    public bool TryAcquire(LoraAdapter adapter, out int slot, out bool loadedNow)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        CheckOwner();
        loadedNow = false;
        if (slotByAdapter.TryGetValue(adapter, out slot))
        {
            slots[slot].Pins++;
            slots[slot].LastUsed = ++useClock;
            return true;
        }

        CheckFits(adapter);
        FreeRetired();
        slot = ChooseSlot();
        if (slot == 0)
        {
            return false;
        }

        if (slots[slot].Adapter is not null)
        {
            Free(slot);
        }

        Write(slot, adapter);
        slots[slot].Adapter = adapter;
        slots[slot].Pins = 1;
        slots[slot].LastUsed = ++useClock;
        slotByAdapter.Add(adapter, slot);
        slots[slot].HostPin = residency?.PinForDevice(adapter);
        loadedNow = true;
        Raise(new AdapterEvent(AdapterEventKind.Loaded, adapter.Name, AdapterTier.Device, SlotBytes(adapter)));
        return true;
    }

    /// <summary>
    /// Ends one request's use of <paramref name="slot"/>. The adapter stays resident for later requests unless it was
    /// unloaded or replaced, in which case the slot is freed now. Engine thread only.
    /// </summary>
    public void Release(int slot)
    {
        CheckOwner();
        var state = slots[CheckSlot(slot)];
        if (state.Adapter is not { } adapter || state.Pins == 0)
        {
            throw new InvalidOperationException($"Slot {slot} is not pinned; every Release must match a successful TryAcquire.");
        }

        state.Pins--;
        // A pinned slot is used by every step until now: its last use is this release, not the acquire that pinned it,
        // so a slot that a long request held is not taken for idle just because it was written long ago.
        state.LastUsed = ++useClock;
        if (state.Pins == 0 && residency?.IsRetired(adapter) == true)
        {
            Free(slot);
        }
    }

    /// <summary>
    /// Frees every unpinned slot whose adapter was unloaded or replaced; returns how many. <see cref="TryAcquire"/> does this
    /// itself; the engine may call it between steps so that an unload of an idle adapter frees device memory promptly.
    /// </summary>
    public int FreeRetired()
    {
        CheckOwner();
        if (residency is null)
        {
            return 0;
        }

        var freed = 0;
        for (var slot = 1; slot <= DeviceSlots; slot++)
        {
            if (slots[slot] is { Adapter: { } adapter, Pins: 0 } && residency.IsRetired(adapter))
            {
                Free(slot);
                freed++;
            }
        }

        return freed;
    }

    /// <summary>Detaches and frees the pools and unpins the host copies. Engine thread, after the last step, before the store is disposed.</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        foreach (var (module, pool) in pools)
        {
            if (targets[module].Pool == pool)
            {
                targets[module].Pool = null;
            }

            pool.Dispose();
        }

        foreach (var state in slots)
        {
            state.HostPin?.Dispose();
            state.HostPin = null;
        }

        slotByAdapter.Clear();
        pools.Clear();
    }

    /// <summary>A free slot (lowest first), else the least recently used unpinned one, else 0.</summary>
    private int ChooseSlot()
    {
        var victim = 0;
        for (var slot = 1; slot <= DeviceSlots; slot++)
        {
            var state = slots[slot];
            if (state.Adapter is null)
            {
                return slot;
            }

            if (state.Pins == 0 && (victim == 0 || state.LastUsed < slots[victim].LastUsed))
            {
                victim = slot;
            }
        }

        return victim;
    }

    private void Write(int slot, LoraAdapter adapter)
    {
        try
        {
            using var noGrad = torch.no_grad();
            // The slot is free, and free slots are all zeros in every pool (Free clears them), so the pools of modules
            // this adapter does not target already give its rows a zero delta.
            foreach (var (module, weights) in adapter.Modules)
            {
                using var scope = torch.NewDisposeScope();
                PoolFor(module).Write(slot, weights.A, weights.B, weights.Scale, weights.Dora?.RowScale());
            }
        }
        catch
        {
            ClearSlot(slot); // never leave half an adapter in a slot
            throw;
        }
    }

    private void Free(int slot)
    {
        var state = slots[slot];
        var adapter = state.Adapter!;
        ClearSlot(slot);
        state.Adapter = null;
        state.Pins = 0;
        slotByAdapter.Remove(adapter);
        state.HostPin?.Dispose();
        state.HostPin = null;
        Raise(new AdapterEvent(AdapterEventKind.Evicted, adapter.Name, AdapterTier.Device, SlotBytes(adapter)));
    }

    private void ClearSlot(int slot)
    {
        foreach (var pool in pools.Values)
        {
            if (pool.RankOf(slot) > 0)
            {
                pool.Clear(slot);
            }
        }
    }

    private LoraSlotPool PoolFor(string module)
    {
        if (!pools.TryGetValue(module, out var pool))
        {
            var target = targets[module];
            pool = new LoraSlotPool(DeviceSlots + 1, MaxRank, target.InFeatures, target.OutFeatures, dtype, device);
            pools.Add(module, pool);
            target.Pool = pool;
        }

        return pool;
    }

    /// <summary>An adapter validated against another model, or above the pool rank, is a programming error here: refuse it whole.</summary>
    private void CheckFits(LoraAdapter adapter)
    {
        var problems = new List<string>();
        foreach (var (module, weights) in adapter.Modules)
        {
            if (!targets.TryGetValue(module, out var target))
            {
                problems.Add($"module '{module}' is not an adaptable module of the served model");
            }
            else if (weights.A.shape[1] != target.InFeatures || weights.B.shape[0] != target.OutFeatures)
            {
                problems.Add($"module '{module}' is {target.InFeatures} -> {target.OutFeatures}, but the adapter's A/B do not fit it");
            }

            if (weights.Rank > MaxRank)
            {
                problems.Add($"module '{module}' has rank {weights.Rank}, above the pool rank {MaxRank}");
            }
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException($"Adapter '{adapter.Name}' does not fit the device slot pools: {string.Join("; ", problems)}.", nameof(adapter));
        }
    }

    private long SlotBytes(LoraAdapter adapter) =>
        adapter.Modules.Keys.Sum(module => pools.TryGetValue(module, out var pool) ? pool.BytesPerSlot : 0);

    private int CheckSlot(int slot)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slot, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(slot, DeviceSlots);
        return slot;
    }

    private void CheckOwner()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var current = Environment.CurrentManagedThreadId;
        var owner = Interlocked.CompareExchange(ref ownerThread, current, 0);
        if (owner != 0 && owner != current)
        {
            throw new InvalidOperationException(
                $"The device slot table belongs to the engine thread (managed thread {owner}); thread {current} may not use it.");
        }
    }

    private void Raise(AdapterEvent adapterEvent) => AdapterEventQueue.RaiseNow(logger, this, Changed, adapterEvent);

    private sealed class SlotState
    {
        public LoraAdapter? Adapter { get; set; }

        public int Pins { get; set; }

        /// <summary>The slot's pin on its adapter's host copy, released when the slot is freed.</summary>
        public IDisposable? HostPin { get; set; }

        /// <summary>A use counter, not a time: LRU needs only an order, and a counter cannot tie.</summary>
        public long LastUsed { get; set; }
    }
}
