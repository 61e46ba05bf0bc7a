using InferServer.AdapterStore;
using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Merging;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;
using InferServer.Server.Demo;
using InferServer.Server.Models;
using InferServer.Server.Models.Common;
using InferServer.Server.Tokenization;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace InferServer.Server.Engine;

/// <summary>The composition root of a running engine: model, tokenizer, adapter store, slot table, merge cache.</summary>
public sealed partial class InferenceEngine
{
    /// <summary>The adapter lifecycle (admin APIs) of an engine made by <see cref="Start"/>.</summary>
    public IAdapterRegistry Adapters { get; private set; } = null!;

    /// <summary>Lifecycle events of the store, the device slot table and the merge cache (raised on their threads).</summary>
    public event EventHandler<AdapterEvent>? AdapterChanged;

    /// <summary>
    /// Loads the model named by <paramref name="options"/> (the embedded demo model when ModelPath is empty), its
    /// tokenizer, and an adapter store over <paramref name="adapterOptions"/>, preloads the configured adapters, and
    /// starts the engine thread. Every option problem is reported at once.
    /// </summary>
    public static InferenceEngine Start(EngineOptions options, AdapterStoreOptions adapterOptions, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        var problems = options.Validate().Concat(adapterOptions.Validate()).ToArray();
        if (problems.Length > 0)
            throw new ArgumentException("invalid options:" + string.Concat(problems.Select(p => "\n  - " + p)));
        var directory = options.ModelPath.Length > 0
            ? Path.GetFullPath(options.ModelPath)
            : DemoModelGenerator.EnsureDefault(DemoCacheRoot());
        // The demo model brings its own adapters; serve them unless adapter roots were configured.
        if (options.ModelPath.Length == 0 && adapterOptions.AdapterRoots.Count == 0)
            adapterOptions = adapterOptions with { AdapterRoots = [Path.Combine(directory, "adapters")] };
        var dtype = ModelLoadOptions.ParseDType(options.DType);
        var device = TorchSharp.torch.device(options.Device);
        var model = ModelLoader.Load(directory, new ModelLoadOptions(device, dtype));
        AdapterRegistry? store = null;
        StoreAdapters? adapters = null;
        InferenceEngine? engine = null;
        try
        {
            var tokenizer = TokenizerLoader.Load(directory);
            store = new AdapterRegistry(adapterOptions, BaseModelSpecs.From(model), dtype, timeProvider,
                loggerFactory.CreateLogger<AdapterRegistry>());
            var targets = model.AdaptableModules.ToDictionary(m => m.Key, m => (ILoraTarget)m.Value, StringComparer.Ordinal);
            var slots = new DeviceSlotTable(targets, adapterOptions.DeviceSlots, adapterOptions.MaxRank, dtype, device, store,
                loggerFactory.CreateLogger<DeviceSlotTable>());
            var merges = new MergeCache(targets, adapterOptions, store, loggerFactory.CreateLogger<MergeCache>());
            adapters = new StoreAdapters(store, slots, merges);
            var servedName = options.ServedModelName.Length > 0 ? options.ServedModelName : Path.GetFileName(directory.TrimEnd(Path.DirectorySeparatorChar));
            // The slot table and merge cache go before the store: slots pin host copies the store owns.
            engine = new InferenceEngine(options, model, tokenizer, adapters, servedName,
                loggerFactory.CreateLogger<InferenceEngine>(), timeProvider, new OwnedInOrder(adapters, store))
            {
                Adapters = store,
            };
            store.Changed += engine.RaiseAdapterChanged;
            slots.Changed += engine.RaiseAdapterChanged;
            merges.Changed += engine.RaiseAdapterChanged;
            store.PreloadAsync(CancellationToken.None).GetAwaiter().GetResult();
            return engine;
        }
        catch
        {
            if (engine is not null)
            {
                // The engine owns the model, the KV cache, the slots and the store: stopping it stops its thread and frees them all.
                engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            else
            {
                adapters?.Dispose();
                store?.Dispose();
                model.Dispose();
            }
            throw;
        }
    }

    private void RaiseAdapterChanged(object? sender, AdapterEvent change) => AdapterChanged?.Invoke(this, change);

    /// <summary>Where the demo model is generated: $XDG_CACHE_HOME/inferserver, else ~/.cache/inferserver.</summary>
    public static string DemoCacheRoot()
    {
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(cache))
            cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "inferserver");
    }

    private sealed class OwnedInOrder(params IDisposable[] owned) : IDisposable
    {
        public void Dispose()
        {
            foreach (var item in owned)
                item.Dispose();
        }
    }
}
