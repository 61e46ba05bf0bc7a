using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Tiers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;

namespace InferServer.AdapterStore.Registry;

/// <summary>
/// The adapter registry: names map to directories, adapters are loaded, unloaded, listed and described. The validated
/// copies live in its <see cref="Host"/> tier, which owns their pins, eviction and memory. Thread-safe: admin calls,
/// request handlers and the engine thread may all call it.
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
/// Unload policy: drain. <see cref="UnloadAsync"/> unregisters the name at once: new requests get
/// <see cref="AdapterNotFoundException"/> (also for an adapter root's directory, which is not rediscovered until an
/// explicit <see cref="LoadAsync"/>), requests already running finish with the weights they started with, and the host
/// tensors and the device slot are freed when the last pin goes. The alternatives were to refuse the unload while requests
/// run (an admin could never unload a busy adapter) or to cancel them (clients lose work for an operational action).
/// Reload uses the same mechanism: the new version is read beside the old one and swapped in atomically on success; the
/// old version drains like an unloaded one, and a failed reload leaves the old version serving.
/// </para>
/// <para>
/// Locks: the registry's own, then the host tier's, never the other way (the tier never calls up). Events are raised
/// after both are released, the registry's before the tier's, which is the order they happened in.
/// </para>
/// </remarks>
public sealed partial class AdapterRegistry : IAdapterRegistry, IDisposable
{
    // Problems of a refused adapter listed in its log line; the rest are counted.
    private const int LoggedProblems = 10;

    private readonly object gate = new();
    private readonly AdapterStoreOptions options;
    private readonly AdapterDirectories directories;
    private readonly BaseModelSpec spec;
    private readonly torch.ScalarType dtype;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Dictionary<string, AdapterRegistration> registrations = new(StringComparer.Ordinal);
    // Names unloaded by an admin: not rediscovered under the adapter roots until loaded explicitly again.
    private readonly HashSet<string> unloadedNames = new(StringComparer.Ordinal);
    private readonly AdapterEventQueue events;
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
        directories = new AdapterDirectories(options);
        time = timeProvider ?? TimeProvider.System;
        this.logger = logger ?? NullLogger<AdapterRegistry>.Instance;
        events = new AdapterEventQueue(this.logger);
        Host = new HostTier(options.HostMaxAdapters, options.HostMaxBytes, this.logger);
        Host.Changed += (_, adapterEvent) => Changed?.Invoke(this, adapterEvent);
    }

    /// <summary>Lifecycle events (loaded, load failed, evicted, unloaded), raised outside the store's lock.</summary>
    public event EventHandler<AdapterEvent>? Changed;

    /// <summary>
    /// The host tier holding the registered adapters' copies: the device tier and the merge cache pin copies and ask about
    /// retirements there (<see cref="IAdapterResidency"/>). Disposed with the registry.
    /// </summary>
    public HostTier Host { get; }

    /// <summary>Bytes of every adapter tensor held in host memory, pinned and draining ones included.</summary>
    public long HostBytes => Host.Bytes;

    /// <summary>Adapters held in host memory, pinned and draining ones included.</summary>
    public int HostAdapterCount => Host.Count;

    /// <summary>Pins requests (and loads) hold on host copies now; 0 when no request is in flight.</summary>
    public int RequestPins => Host.RequestPins;

    /// <summary>
    /// Versions retired so far (unloaded or replaced by a reload). The device tier and the merge cache compare it with the
    /// value they last saw to learn, without a callback into the engine thread, that they may hold retired copies to free.
    /// </summary>
    public long RetiredVersions => Host.Retirements;

    /// <summary>Loads every <see cref="AdapterStoreOptions.Preload"/> adapter; throws an <see cref="AdapterPreloadException"/> naming every failure.</summary>
    public async Task PreloadAsync(CancellationToken cancellationToken)
    {
        var failures = new List<KeyValuePair<string, Exception>>();
        foreach (var name in options.Preload)
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
        HostPin pin;
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
            pin = Host.PinForRequest(version.Copy);
            load = Host.Read(version.Copy, () => StartLoad(version));
        }

        LoraAdapter adapter;
        try
        {
            adapter = await load.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            pin.Dispose(); // no lease was handed out: this is the pin's only release
            throw;
        }

        lock (gate)
        {
            Host.Touch(version.Copy);
            version.Owner.RequestsServed++;
            version.Owner.LastUsed = time.GetUtcNow();
        }

        return new AdapterLease(adapter, pin.Dispose);
    }

    /// <inheritdoc/>
    public async Task<AdapterInfo> LoadAsync(string name, string? directory, bool reload, CancellationToken cancellationToken)
    {
        AdapterNames.Validate(name);
        cancellationToken.ThrowIfCancellationRequested();
        var resolved = directory is null
            ? directories.Find(name) ?? throw new AdapterNotFoundException(name)
            : directories.ResolveForLoad(directory);

        AdapterRegistration registration;
        AdapterVersion version;
        HostPin pin;
        Task<LoraAdapter> load;
        var replacing = false;
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

            pin = Host.PinForRequest(version.Copy);
            load = Host.Read(version.Copy, () => StartLoad(version));
        }

        try
        {
            await load.WaitAsync(cancellationToken).ConfigureAwait(false);
            lock (gate)
            {
                if (!registrations.TryGetValue(name, out var current) || current != registration)
                {
                    // Unloaded while this load ran; a reloaded version has no registration to join.
                    Host.Retire(version.Copy);
                    throw new AdapterNotFoundException(name);
                }

                if (replacing && registration.Current != version)
                {
                    Host.Retire(registration.Current.Copy);
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
            pin.Dispose();
        }
    }

    /// <summary>
    /// Unregisters <paramref name="name"/> at once; memory is freed when the last request or device slot using it lets go
    /// (drain, see the class remarks). Completes without waiting for the drain.
    /// </summary>
    public Task UnloadAsync(string name, CancellationToken cancellationToken)
    {
        AdapterNames.Validate(name);
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (!registrations.Remove(name, out var registration))
            {
                throw new AdapterNotFoundException(name);
            }

            unloadedNames.Add(name);
            var copy = registration.Current.Copy;
            var (adapter, tier, pins) = Host.StateOf(copy);
            events.Add(new AdapterEvent(AdapterEventKind.Unloaded, name, tier, adapter?.TotalBytes ?? 0));
            LogUnloaded(name, pins);
            Host.Retire(copy);
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

        foreach (var (name, directory) in directories.Discoverable())
        {
            if (!hidden.Contains(name) && !infos.ContainsKey(name))
            {
                infos.Add(name, DiskInfo(name, directory));
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
            registrations.Clear();
            Host.Dispose();
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

        if (directories.Find(name) is not { } directory)
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

    /// <summary>Starts reading <paramref name="version"/> on the thread pool. Caller holds the lock.</summary>
    private Task<LoraAdapter> StartLoad(AdapterVersion version)
    {
        var name = version.Owner.Name;
        LogLoading(name, version.Directory);
        return Task.Run(() =>
        {
            LoraAdapter adapter;
            try
            {
                // Gradient mode is thread-local (TorchSharp keeps it per thread): a pool thread must turn it off itself.
                using var noGrad = torch.no_grad();
                // The loader confines each file it opens to the same roots as the directory.
                var directory = directories.ResolveForRead(version.Directory);
                adapter = LoraAdapterLoader.Load(directory, name, spec, dtype, options.MaxRank,
                    new BaseModelIdentity(options.BaseModelName, options.BaseModelCheck, mismatch => LogOtherBase(name, mismatch)),
                    directories.ConfinementRoots);
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

    private void Loaded(AdapterVersion version, LoraAdapter adapter)
    {
        lock (gate)
        {
            LogLoaded(adapter.Name, adapter.MaxRank, adapter.Modules.Count, adapter.TotalBytes);
            // A version retired while loading is not kept: waiters, if any, hold pins and get it; the last one frees it.
            if (Host.Add(version.Copy, adapter))
            {
                version.Owner.Confirmed = true;
            }
        }

        RaisePendingEvents();
    }

    private void LoadFailed(AdapterVersion version, Exception error)
    {
        lock (gate)
        {
            var registration = version.Owner;
            Host.ReadFailed(version.Copy);
            if (!registration.Confirmed && registration.Current == version
                && registrations.TryGetValue(registration.Name, out var current) && current == registration)
            {
                registrations.Remove(registration.Name);
            }

            events.Add(new AdapterEvent(AdapterEventKind.LoadFailed, registration.Name, AdapterTier.Host, Error: error));
            if (error is InvalidAdapterException invalid)
            {
                // Bounded: an adapter for another model can have a problem per tensor.
                LogRefused(registration.Name, version.Directory, invalid.Problems.Count, string.Join("; ", invalid.Problems.Take(LoggedProblems))
                    + (invalid.Problems.Count > LoggedProblems ? $"; and {invalid.Problems.Count - LoggedProblems} more" : ""));
            }
            else
            {
                LogLoadFailed(error, registration.Name, version.Directory);
            }
        }

        RaisePendingEvents();
    }

    private AdapterInfo InfoOf(AdapterRegistration registration)
    {
        var (held, tier, _) = Host.StateOf(registration.Current.Copy);
        if (held is not { } adapter)
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
            tier,
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

    /// <summary>Raises queued events outside the lock, so handlers may call back into the store; then the host tier's.</summary>
    private void RaisePendingEvents()
    {
        events.Raise(this, Changed);
        Host.RaisePendingEvents();
    }
}
