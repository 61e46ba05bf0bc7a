using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Tiers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;

namespace InferServer.AdapterStore.Registry;

/// <summary>
/// The adapter registry: names map to directories, adapters are loaded, unloaded, listed and described, and validated
/// adapters are held in host memory in the <see cref="HostTier"/> (an LRU bounded by
/// <see cref="AdapterStoreOptions.HostMaxAdapters"/> and <see cref="AdapterStoreOptions.HostMaxBytes"/>), pinned by the
/// requests and device slots using them. Thread-safe: admin calls, request handlers and the engine thread may all call it.
/// </summary>
/// <remarks>
/// <para>
/// Registration. A request for name N finds <c>root/N</c> under the first <see cref="AdapterStoreOptions.AdapterRoots"/>
/// entry that has it, on first use; no directory scan is needed. <see cref="LoadAsync"/> registers explicitly, from a
/// directory inside <see cref="AdapterStoreOptions.EffectiveAllowedLoadRoots"/>. A registration whose first load fails is
/// dropped again, so the name stays unknown until it is fixed.
/// </para>
/// <para>
/// Loads run on the thread pool under <c>torch.no_grad()</c>. Concurrent requests for one adapter share one load, and a
/// failure reaches each of them as the same exception without touching any other adapter.
/// </para>
/// <para>
/// Pins. <see cref="AcquireHostAsync"/> pins the host copy for the request until its <see cref="AdapterLease"/> is disposed, and a device
/// slot pins it while resident (<see cref="IAdapterResidency"/>). A pinned copy is never evicted or disposed; the
/// bounds are then exceeded until the pins go, since failing a running request would be worse than a soft limit.
/// </para>
/// <para>
/// Unload policy: drain. <see cref="UnloadAsync"/> unregisters the name at once: new requests get
/// <see cref="AdapterNotFoundException"/> (also for an adapter root's directory, which is not rediscovered until an
/// explicit <see cref="LoadAsync"/>), requests already running finish with the weights they started with, and the host
/// tensors and the device slot are freed when the last pin goes. The alternatives were to refuse the unload while requests
/// run (an admin could never unload a busy adapter) or to cancel them (clients lose work for an operational action).
/// Reload uses the same mechanism: the new version is read beside the old one and swapped in atomically on success; the
/// old version drains like an unloaded one, and a failed reload leaves the old version serving.
/// </para>
/// </remarks>
public sealed partial class AdapterRegistry : IAdapterRegistry, IAdapterResidency, IDisposable
{
    private readonly object gate = new();
    private readonly AdapterStoreOptions options;
    private readonly BaseModelSpec spec;
    private readonly torch.ScalarType dtype;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Dictionary<string, AdapterRegistration> registrations = new(StringComparer.Ordinal);
    // Names unloaded by an admin: not rediscovered under the adapter roots until loaded explicitly again.
    private readonly HashSet<string> unloadedNames = new(StringComparer.Ordinal);
    private readonly Dictionary<LoraAdapter, AdapterVersion> versionsByAdapter = new(ReferenceEqualityComparer.Instance);
    // Host copies, guarded by the gate like everything here. Retired (unloaded, replaced) versions are not in its LRU.
    private readonly HostTier host;
    private readonly List<AdapterEvent> pendingEvents = [];
    private int requestPins;
    private long retiredVersions;
    private bool disposed;

    /// <param name="options">Roots, bounds and rank; see <see cref="AdapterStoreOptions.Validate"/>.</param>
    /// <param name="spec">The served base model; every adapter is validated against it.</param>
    /// <param name="dtype">The serving dtype: host copies are converted to it once, at load.</param>
    /// <param name="timeProvider">For last-used times; <see cref="TimeProvider.System"/> by default.</param>
    /// <param name="logger">Lifecycle logging.</param>
    public AdapterRegistry(
        AdapterStoreOptions options, BaseModelSpec spec, torch.ScalarType dtype, TimeProvider? timeProvider = null, ILogger<AdapterRegistry>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(spec);
        if (options.Validate() is { Count: > 0 } problems)
        {
            throw new ArgumentException("Invalid adapter store options: " + string.Join("; ", problems), nameof(options));
        }

        this.options = options;
        this.spec = spec;
        this.dtype = dtype;
        host = new HostTier(options.HostMaxAdapters, options.HostMaxBytes);
        time = timeProvider ?? TimeProvider.System;
        this.logger = logger ?? NullLogger<AdapterRegistry>.Instance;
    }

    /// <summary>Lifecycle events (loaded, load failed, evicted, unloaded), raised outside the store's lock.</summary>
    public event EventHandler<AdapterEvent>? Changed;

    /// <summary>Bytes of every adapter tensor held in host memory, pinned and draining ones included.</summary>
    public long HostBytes
    {
        get
        {
            lock (gate)
            {
                return host.Bytes;
            }
        }
    }

    /// <summary>Adapters held in host memory, pinned and draining ones included.</summary>
    public int HostAdapterCount
    {
        get
        {
            lock (gate)
            {
                return host.Count;
            }
        }
    }

    /// <summary>Pins requests (and loads) hold on host copies now; 0 when no request is in flight.</summary>
    public int RequestPins
    {
        get
        {
            lock (gate)
            {
                return requestPins;
            }
        }
    }

    /// <summary>
    /// Versions retired so far (unloaded or replaced by a reload). The device tier and the merge cache compare it with the
    /// value they last saw to learn, without a callback into the engine thread, that they may hold retired copies to free.
    /// </summary>
    public long RetiredVersions => Interlocked.Read(ref retiredVersions);

    /// <summary>Loads every <see cref="AdapterStoreOptions.Preload"/> adapter; throws an <see cref="AdapterPreloadException"/> naming every failure.</summary>
    public async Task PreloadAsync(CancellationToken cancellationToken)
    {
        var failures = new List<KeyValuePair<string, Exception>>();
        foreach (string name in options.Preload)
        {
            try
            {
                await LoadAsync(name, directory: null, reload: false, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failures.Add(KeyValuePair.Create(name, e));
            }
        }

        if (failures.Count > 0)
        {
            throw new AdapterPreloadException(failures);
        }
    }

    /// <summary>
    /// The host copy of <paramref name="name"/>, loading it first if needed, pinned for the calling request until the
    /// returned lease is disposed. Counts one request served. Throws <see cref="InvalidAdapterNameException"/>,
    /// <see cref="AdapterNotFoundException"/>, <see cref="AdapterPathException"/> or <see cref="InvalidAdapterException"/>.
    /// Any thread.
    /// </summary>
    public async Task<AdapterLease> AcquireHostAsync(string name, CancellationToken cancellationToken)
    {
        AdapterNames.Validate(name);
        cancellationToken.ThrowIfCancellationRequested();
        EnsureRegistered(name);
        AdapterVersion version;
        Task<LoraAdapter> load;
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (!registrations.TryGetValue(name, out var registration))
            {
                throw new AdapterNotFoundException(name); // unloaded since EnsureRegistered
            }

            version = registration.Current;
            // Pin before waiting, so the copy cannot be evicted between the load finishing and this request using it.
            PinForRequest(version);
            load = version.Adapter is { } ready ? Task.FromResult(ready) : version.Load ??= StartLoad(version);
        }

        LoraAdapter adapter;
        try
        {
            adapter = await load.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Unpin(version, device: false); // no lease was handed out: this is the pin's only release
            throw;
        }

        lock (gate)
        {
            Touch(version);
            version.Owner.RequestsServed++;
            version.Owner.LastUsed = time.GetUtcNow();
        }

        return new AdapterLease(adapter, () => Unpin(version, device: false));
    }

    /// <inheritdoc/>
    public async Task<AdapterInfo> LoadAsync(string name, string? directory, bool reload, CancellationToken cancellationToken)
    {
        AdapterNames.Validate(name);
        cancellationToken.ThrowIfCancellationRequested();
        string resolved = directory is null
            ? FindInRoots(name) ?? throw new AdapterNotFoundException(name)
            : AdapterPaths.ResolveInside(directory, options.EffectiveAllowedLoadRoots);

        AdapterRegistration registration;
        AdapterVersion version;
        Task<LoraAdapter> load;
        bool replacing = false;
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (!registrations.TryGetValue(name, out var existing))
            {
                registration = new AdapterRegistration(name, resolved);
                registrations.Add(name, registration);
                version = registration.Current;
            }
            else if (reload)
            {
                registration = existing;
                version = new AdapterVersion(registration, resolved);
                replacing = true;
            }
            else if (existing.Directory != resolved)
            {
                throw new AdapterConflictException(name,
                    $"already registered from '{existing.Directory}', not '{resolved}'; unload it first, or reload to switch directories");
            }
            else
            {
                registration = existing;
                version = registration.Current;
            }

            PinForRequest(version);
            load = version.Adapter is { } ready ? Task.FromResult(ready) : version.Load ??= StartLoad(version);
        }

        try
        {
            await load.WaitAsync(cancellationToken).ConfigureAwait(false);
            lock (gate)
            {
                if (!registrations.TryGetValue(name, out var current) || current != registration)
                {
                    // Unloaded while this load ran; a reloaded version has no registration to join.
                    Retire(version);
                    throw new AdapterNotFoundException(name);
                }

                if (replacing && registration.Current != version)
                {
                    Retire(registration.Current);
                    registration.Current = version;
                    registration.Directory = resolved;
                    LogReloaded(name, resolved);
                }

                unloadedNames.Remove(name);
                return InfoOf(registration);
            }
        }
        finally
        {
            Unpin(version, device: false);
        }
    }

    /// <summary>
    /// Unregisters <paramref name="name"/> at once; memory is freed when the last request or device slot using it lets go
    /// (drain, see the class remarks). Completes without waiting for the drain.
    /// </summary>
    public Task UnloadAsync(string name, CancellationToken cancellationToken)
    {
        AdapterNames.Validate(name);
        AdapterVersion version;
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (!registrations.Remove(name, out var registration))
            {
                throw new AdapterNotFoundException(name);
            }

            unloadedNames.Add(name);
            version = registration.Current;
            Emit(new AdapterEvent(AdapterEventKind.Unloaded, name, TierOf(version), version.Adapter?.TotalBytes ?? 0));
            LogUnloaded(name, version.RequestPins + version.DevicePins);
            Retire(version);
        }

        RaisePendingEvents();
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    /// <remarks>Also lists the adapter roots' subdirectories no request has named yet, in tier Disk.</remarks>
    public IReadOnlyList<AdapterInfo> List()
    {
        var infos = new Dictionary<string, AdapterInfo>(StringComparer.Ordinal);
        HashSet<string> hidden;
        lock (gate)
        {
            foreach (var registration in registrations.Values)
            {
                infos.Add(registration.Name, InfoOf(registration));
            }

            hidden = [.. unloadedNames];
        }

        foreach (string root in options.AdapterRoots.Where(Directory.Exists))
        {
            foreach (string directory in Directory.EnumerateDirectories(root))
            {
                string name = Path.GetFileName(directory);
                if (AdapterNames.Check(name) is null && !hidden.Contains(name) && !infos.ContainsKey(name))
                {
                    infos.Add(name, DiskInfo(name, directory));
                }
            }
        }

        return [.. infos.Values.OrderBy(info => info.Name, StringComparer.Ordinal)];
    }

    /// <inheritdoc/>
    public AdapterInfo Get(string name)
    {
        AdapterNames.Validate(name);
        EnsureRegistered(name);
        lock (gate)
        {
            return registrations.TryGetValue(name, out var registration) ? InfoOf(registration) : throw new AdapterNotFoundException(name);
        }
    }

    void IAdapterResidency.EnteredDevice(LoraAdapter adapter)
    {
        lock (gate)
        {
            VersionOfLocked(adapter).DevicePins++;
        }
    }

    void IAdapterResidency.LeftDevice(LoraAdapter adapter) => Unpin(VersionOf(adapter), device: true);

    void IAdapterResidency.MergedChanged(LoraAdapter adapter, bool merged)
    {
        lock (gate)
        {
            if (versionsByAdapter.TryGetValue(adapter, out var version))
            {
                version.Merged = merged;
            }
        }
    }

    bool IAdapterResidency.IsRetired(LoraAdapter adapter)
    {
        lock (gate)
        {
            return !versionsByAdapter.TryGetValue(adapter, out var version) || version.Retired;
        }
    }

    /// <summary>Frees every host copy, pinned or not: call it at shutdown, after the engine stopped.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            foreach (var version in versionsByAdapter.Values.ToList())
            {
                Free(version);
            }

            registrations.Clear();
            host.Clear();
        }
    }

    /// <summary>Registers <c>root/N</c> on first use when N is not registered yet (the directory check runs outside the lock).</summary>
    private void EnsureRegistered(string name)
    {
        lock (gate)
        {
            if (registrations.ContainsKey(name) || unloadedNames.Contains(name))
            {
                return;
            }
        }

        if (FindInRoots(name) is not { } directory)
        {
            return;
        }

        lock (gate)
        {
            if (!registrations.ContainsKey(name) && !unloadedNames.Contains(name))
            {
                registrations.Add(name, new AdapterRegistration(name, directory));
            }
        }
    }

    /// <summary>The real path of <c>root/N</c> under the first adapter root that has it; one that links outside its root is refused.</summary>
    private string? FindInRoots(string name)
    {
        foreach (string root in options.AdapterRoots)
        {
            string candidate = Path.Combine(root, name);
            if (Directory.Exists(candidate))
            {
                return AdapterPaths.ResolveInside(candidate, [root]);
            }
        }

        return null;
    }

    /// <summary>Starts reading <paramref name="version"/> on the thread pool. Caller holds the lock.</summary>
    private Task<LoraAdapter> StartLoad(AdapterVersion version)
    {
        string name = version.Owner.Name;
        LogLoading(name, version.Directory);
        return Task.Run(() =>
        {
            LoraAdapter adapter;
            try
            {
                // Gradient mode is thread-local (TorchSharp keeps it per thread): a pool thread must turn it off itself.
                using var noGrad = torch.no_grad();
                // Every read checks the path again (a directory may have been swapped for a link since it was registered,
                // or since an evicted copy was last read), and the loader confines each file it opens to the same roots.
                var roots = ConfinementRoots();
                var directory = AdapterPaths.ResolveInside(version.Directory, roots);
                adapter = LoraAdapterLoader.Load(directory, name, spec, dtype, options.MaxRank,
                    new BaseModelIdentity(options.BaseModelName, options.BaseModelCheck, mismatch => LogOtherBase(name, mismatch)), roots);
            }
            catch (Exception e)
            {
                LoadFailed(version, e);
                throw;
            }

            Loaded(version, adapter);
            return adapter;
        });
    }

    /// <summary>Every root an adapter may be read from: the discovery roots and the admin load roots.</summary>
    private IReadOnlyList<string> ConfinementRoots() => [.. options.AdapterRoots.Union(options.EffectiveAllowedLoadRoots)];

    private void Loaded(AdapterVersion version, LoraAdapter adapter)
    {
        lock (gate)
        {
            version.Adapter = adapter;
            versionsByAdapter.Add(adapter, version);
            host.Added(adapter);
            Emit(new AdapterEvent(AdapterEventKind.Loaded, adapter.Name, AdapterTier.Host, adapter.TotalBytes));
            LogLoaded(adapter.Name, adapter.MaxRank, adapter.Modules.Count, adapter.TotalBytes);
            if (disposed || version.Retired)
            {
                // Unloaded (or replaced) while loading: waiters, if any, hold pins and get it; the last one frees it.
                if (version.Pins == 0)
                {
                    Free(version);
                }
            }
            else
            {
                version.Owner.Confirmed = true;
                host.Track(adapter);
                EvictOverBudget();
            }
        }

        RaisePendingEvents();
    }

    private void LoadFailed(AdapterVersion version, Exception error)
    {
        lock (gate)
        {
            var registration = version.Owner;
            version.Load = null; // the next request tries again, e.g. after the directory was fixed
            if (!registration.Confirmed && registration.Current == version
                && registrations.TryGetValue(registration.Name, out var current) && current == registration)
            {
                registrations.Remove(registration.Name);
            }

            Emit(new AdapterEvent(AdapterEventKind.LoadFailed, registration.Name, AdapterTier.Host, Error: error));
            LogLoadFailed(error, registration.Name, version.Directory);
        }

        RaisePendingEvents();
    }

    private void Unpin(AdapterVersion version, bool device)
    {
        lock (gate)
        {
            if (device)
            {
                version.DevicePins--;
            }
            else
            {
                version.RequestPins--;
                requestPins--;
            }

            if (version.DevicePins < 0 || version.RequestPins < 0)
            {
                throw new InvalidOperationException($"Adapter '{version.Owner.Name}' was released more often than it was acquired.");
            }

            if (version.Pins == 0 && version.Adapter is not null)
            {
                if (version.Retired || disposed)
                {
                    Free(version);
                }
                else
                {
                    EvictOverBudget();
                }
            }
        }

        RaisePendingEvents();
    }

    private void PinForRequest(AdapterVersion version)
    {
        version.RequestPins++;
        requestPins++;
    }

    private AdapterVersion VersionOf(LoraAdapter adapter)
    {
        lock (gate)
        {
            return VersionOfLocked(adapter);
        }
    }

    private AdapterVersion VersionOfLocked(LoraAdapter adapter)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        return versionsByAdapter.TryGetValue(adapter, out var version)
            ? version
            : throw new InvalidOperationException($"Adapter '{adapter.Name}' is not held by this store (never acquired from it, or already freed).");
    }

    private void Touch(AdapterVersion version)
    {
        if (version.Adapter is { } adapter)
        {
            host.Touch(adapter);
        }
    }

    /// <summary>Retires a version (unloaded or replaced): out of the LRU, freed now if unpinned, else by its last unpin.</summary>
    private void Retire(AdapterVersion version)
    {
        version.Retired = true;
        Interlocked.Increment(ref retiredVersions);
        if (version.Adapter is { } adapter)
        {
            host.Untrack(adapter);
        }

        if (version.Pins == 0 && version.Adapter is not null)
        {
            Free(version);
        }
    }

    /// <summary>Evicts least recently used unpinned host copies until both bounds hold (or only pinned copies are left).</summary>
    private void EvictOverBudget() => host.EvictOverBudget(
        adapter => versionsByAdapter[adapter].Pins > 0,
        adapter =>
        {
            var version = versionsByAdapter[adapter];
            version.Load = null; // back to tier Disk: the next request reads it again
            LogEvicted(version.Owner.Name, adapter.TotalBytes);
            Free(version);
        });

    /// <summary>Disposes a version's host tensors. Caller holds the lock; the version has no pins (or the store is disposed).</summary>
    private void Free(AdapterVersion version)
    {
        if (version.Adapter is not { } adapter)
        {
            return;
        }

        versionsByAdapter.Remove(adapter);
        host.Freed(adapter);
        version.Adapter = null;
        adapter.Dispose();
        Emit(new AdapterEvent(AdapterEventKind.Evicted, adapter.Name, AdapterTier.Host, adapter.TotalBytes));
    }

    private static AdapterTier TierOf(AdapterVersion version) =>
        version.Merged ? AdapterTier.Merged
        : version.DevicePins > 0 ? AdapterTier.Device
        : version.Adapter is not null ? AdapterTier.Host
        : AdapterTier.Disk;

    private static AdapterInfo InfoOf(AdapterRegistration registration)
    {
        var version = registration.Current;
        if (version.Adapter is not { } adapter)
        {
            return DiskInfo(registration.Name, registration.Directory) with
            {
                RequestsServed = registration.RequestsServed,
                LastUsed = registration.LastUsed,
            };
        }

        return new AdapterInfo(
            registration.Name,
            registration.Directory,
            TierOf(version),
            adapter.MaxRank,
            [.. adapter.Modules.Keys.Order(StringComparer.Ordinal)],
            adapter.TotalBytes,
            registration.RequestsServed,
            registration.LastUsed,
            adapter.Config.TaskType,
            adapter.Classifier?.Labels);
    }

    private static AdapterInfo DiskInfo(string name, string directory) =>
        new(name, directory, AdapterTier.Disk, 0, [], 0, 0, null, null, null);

    private void Emit(AdapterEvent adapterEvent) => pendingEvents.Add(adapterEvent);

    /// <summary>Raises queued events outside the lock, so handlers may call back into the store.</summary>
    private void RaisePendingEvents()
    {
        AdapterEvent[] events;
        lock (gate)
        {
            if (pendingEvents.Count == 0)
            {
                return;
            }

            events = [.. pendingEvents];
            pendingEvents.Clear();
        }

        foreach (var adapterEvent in events)
        {
            try
            {
                Changed?.Invoke(this, adapterEvent);
            }
            catch (Exception e)
            {
                LogEventHandlerFailed(e, adapterEvent.Kind, adapterEvent.Name);
            }
        }
    }
}
