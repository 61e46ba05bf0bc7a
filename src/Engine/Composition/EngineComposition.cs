using InferServer.Kernels.Memory;
using InferServer.Engine.Models.Loading;
using InferServer.AdapterStore;
using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Merging;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Tokenization;
using Microsoft.Extensions.Logging;

namespace InferServer.Engine.Composition;

/// <summary>
/// The composition root of the engine: model, tokenizer, adapter registry, device slot table, merge cache and engine,
/// built from the Engine options (Engine:ModelPath names the model directory) and the Adapters options.
/// </summary>
public static class EngineComposition
{
    /// <summary>
    /// Composes and starts a runtime outside a host (embedding programs, benchmarks, tests): <see cref="Compose"/>, then the adapter preload.
    /// A start that fails disposes everything it built.
    /// </summary>
    public static async Task<InferenceEngineRuntime> StartAsync(EngineOptions options, AdapterStoreOptions adapterOptions,
        ILoggerFactory loggerFactory, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        var runtime = Compose(options, adapterOptions, loggerFactory, timeProvider);
        try
        {
            await runtime.StartAsync(cancellationToken);
            return runtime;
        }
        catch
        {
            await runtime.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Loads the model and its tokenizer, builds the adapter tiers over <paramref name="adapterOptions"/> and starts the
    /// engine thread; the configured adapters are preloaded by <see cref="InferenceEngineRuntime.StartAsync"/>. Every
    /// option problem is reported at once.
    /// </summary>
    public static InferenceEngineRuntime Compose(EngineOptions options, AdapterStoreOptions adapterOptions,
        ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        var problems = options.Validate().Concat(adapterOptions.Validate()).ToArray();
        if (problems.Length > 0)
        {
            throw new ArgumentException("invalid options:" + string.Concat(problems.Select(p => "\n  - " + p)));
        }

        if (options.ModelPath.Length == 0)
        {
            throw new ArgumentException("invalid options:\n  - Engine:ModelPath is empty: name a model directory");
        }

        var directory = Path.GetFullPath(options.ModelPath);
        var dtype = ModelLoadOptions.ParseDType(options.DType);
        var device = TorchSharp.torch.device(options.Device);
        var model = ModelLoader.Load(directory, new ModelLoadOptions(device, dtype) { HugePages = options.HugePages });
        if (options.HugePages && model is TorchSharp.torch.nn.Module module && device.type == TorchSharp.DeviceType.CPU)
        {
            var placement = HugePages.Back(module.parameters());
            EngineCompositionLog.WeightsOnHugePages(loggerFactory.CreateLogger<InferenceEngine>(), placement.HugeBytes >> 20,
                placement.CandidateBytes >> 20, placement.Mode, placement.Failure ?? "none");
        }
        AdapterRegistry? registry = null;
        StoreAdapters? adapters = null;
        try
        {
            var tokenizer = TokenizerLoader.Load(directory);
            registry = new AdapterRegistry(adapterOptions, BaseModelSpecs.From(model), dtype, timeProvider,
                loggerFactory.CreateLogger<AdapterRegistry>());
            var targets = model.AdaptableModules.ToDictionary(m => m.Key, m => (ILoraTarget)m.Value, StringComparer.Ordinal);
            var slotLogger = loggerFactory.CreateLogger<DeviceSlotTable>();
            var sizing = DeviceSlotSizing.Resolve(adapterOptions, options.MaxBatchRows, targets.Values, dtype);
            EngineCompositionLog.DeviceSlotsSized(slotLogger, sizing.Slots, sizing.Automatic ? "automatic" : "configured", sizing.StepAdapters,
                sizing.BytesPerSlot, sizing.WorstCaseBytes);
            var slots = new DeviceSlotTable(targets, sizing.Slots, adapterOptions.MaxRank, dtype, device, registry.Host, slotLogger);
            var merges = new MergeCache(targets, adapterOptions, registry.Host, loggerFactory.CreateLogger<MergeCache>());
            adapters = new StoreAdapters(registry, slots, merges);
            var servedName = options.ServedModelName.Length > 0 ? options.ServedModelName : Path.GetFileName(directory.TrimEnd(Path.DirectorySeparatorChar));
            // The engine owns the model, the KV cache and the tiers from here on. The slot table and merge cache go
            // before the registry: slots pin host copies the registry owns.
            var engine = new InferenceEngine(options, model, tokenizer, adapters, servedName,
                loggerFactory.CreateLogger<InferenceEngine>(), timeProvider, new OwnedInOrder(adapters, registry));
            var runtime = new InferenceEngineRuntime(engine, registry);
            registry.Changed += runtime.RaiseAdapterChanged;
            slots.Changed += runtime.RaiseAdapterChanged;
            merges.Changed += runtime.RaiseAdapterChanged;
            return runtime;
        }
        catch
        {
            adapters?.Dispose();
            registry?.Dispose();
            model.Dispose();
            throw;
        }
    }

    private sealed class OwnedInOrder(params IDisposable[] owned) : IDisposable
    {
        public void Dispose()
        {
            foreach (var item in owned)
            {
                item.Dispose();
            }
        }
    }
}
