using InferServer.Engine.Models.Loading;
using InferServer.AdapterStore;
using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Merging;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;
using InferServer.Demo;
using InferServer.Engine;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Tests;
using InferServer.Engine.Tokenization;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferServer.Engine.Tests;

/// <summary>An engine over a real model and adapter store, with the store's adapters seen through <see cref="InstrumentedAdapters"/>.</summary>
public sealed class StoreBackedEngine : IAsyncDisposable
{
    private static readonly Lazy<string> BertWithTokenizer = new(() =>
    {
        var directory = ProcessScratch.Directory("bert-tiny-store");
        foreach (var file in Directory.GetFiles(ReferenceFixtures.BaseDirectory("bert-tiny-cls")))
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)), overwrite: true);
        DemoTokenizerFiles.WriteBert(directory);
        return directory;
    });

    private StoreBackedEngine(InferenceEngine engine, AdapterRegistry store, InstrumentedAdapters adapters)
    {
        Engine = engine;
        Store = store;
        Adapters = adapters;
    }

    public InferenceEngine Engine { get; }

    public AdapterRegistry Store { get; }

    public InstrumentedAdapters Adapters { get; }

    /// <summary>llama-tiny (GPT-2 tokenizer) with the fixture adapters, or bert-tiny-cls with its adapters when <paramref name="classifier"/>.</summary>
    public static StoreBackedEngine Start(EngineOptions options, AdapterStoreOptions? adapterOptions = null, bool classifier = false)
    {
        var directory = classifier ? BertWithTokenizer.Value : EngineFixture.LlamaTinyDirectory;
        adapterOptions ??= new AdapterStoreOptions
        {
            AdapterRoots = [Path.Combine(ReferenceFixtures.Root, classifier ? "bert-tiny-cls" : "llama-tiny", "adapters")],
            DeviceSlots = 4,
            MaxRank = 16,
            MergeEnabled = false,
        };
        return Start(options, directory, adapterOptions);
    }

    /// <summary>The model in <paramref name="directory"/> (with its tokenizer) and the adapters <paramref name="adapterOptions"/> name.</summary>
    public static StoreBackedEngine Start(EngineOptions options, string directory, AdapterStoreOptions adapterOptions)
    {
        var model = ModelLoader.Load(directory, ModelLoadOptions.Cpu);
        var tokenizer = TokenizerLoader.Load(directory);
        var store = new AdapterRegistry(adapterOptions, BaseModelSpecs.From(model), TorchSharp.torch.ScalarType.Float32);
        var targets = model.AdaptableModules.ToDictionary(m => m.Key, m => (ILoraTarget)m.Value, StringComparer.Ordinal);
        // Sized as EngineComposition sizes it, so the automatic count (DeviceSlots 0) is what tests get too.
        var sizing = DeviceSlotSizing.Resolve(adapterOptions, options.MaxBatchRows, targets.Values, TorchSharp.torch.ScalarType.Float32);
        var slots = new DeviceSlotTable(targets, sizing.Slots, adapterOptions.MaxRank, TorchSharp.torch.ScalarType.Float32,
            TorchSharp.torch.CPU, store.Host);
        var storeAdapters = new StoreAdapters(store, slots, new MergeCache(targets, adapterOptions, store.Host));
        var adapters = new InstrumentedAdapters(storeAdapters);
        var engine = new InferenceEngine(options, model, tokenizer, adapters, "under-test", NullLogger.Instance, TimeProvider.System,
            new OwnedBoth(storeAdapters, store));
        return new StoreBackedEngine(engine, store, adapters);
    }

    public ValueTask DisposeAsync() => Engine.DisposeAsync();

    private sealed class OwnedBoth(IDisposable first, IDisposable second) : IDisposable
    {
        public void Dispose()
        {
            first.Dispose();
            second.Dispose();
        }
    }
}
