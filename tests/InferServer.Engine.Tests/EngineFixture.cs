using InferServer.Engine.Models.Loading;
using InferServer.Engine.Composition;
using InferServer.AdapterStore.Configuration;
using InferServer.Demo;
using InferServer.Engine;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Tokenization;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferServer.Engine.Tests;

/// <summary>
/// Engines over the llama-tiny reference fixture (vocabulary 1000) with the real GPT-2 tokenizer files beside it:
/// GPT-2 ids below 1000 are ordinary BPE pieces, so generated ids decode to real text.
/// </summary>
public static class EngineFixture
{
    private static readonly Lazy<string> ModelDirectory = new(() =>
    {
        var directory = ProcessScratch.Directory("llama-tiny-gpt2-tokenizer");
        foreach (var file in Directory.GetFiles(ReferenceFixtures.BaseDirectory("llama-tiny")))
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)), overwrite: true);
        DemoTokenizerFiles.Write(directory);
        return directory;
    });

    /// <summary>llama-tiny + GPT-2 tokenizer files.</summary>
    public static string LlamaTinyDirectory => ModelDirectory.Value;

    /// <summary>Starts an engine on llama-tiny with base-only adapters.</summary>
    public static InferenceEngine Start(EngineOptions? options = null, IEngineAdapters? adapters = null, TextTokenizer? tokenizer = null)
    {
        var model = ModelLoader.Load(LlamaTinyDirectory, ModelLoadOptions.Cpu);
        tokenizer ??= TokenizerLoader.Load(LlamaTinyDirectory);
        return new InferenceEngine(options ?? new EngineOptions { KvCacheBytes = 8L * 1024 * 1024 }, model, tokenizer,
            adapters ?? new BaseOnlyAdapters(), "llama-tiny", NullLogger.Instance, TimeProvider.System);
    }

    /// <summary>Starts an engine on llama-tiny with the real adapter store over <paramref name="adapters"/>, as the server composes it.</summary>
    public static Task<InferenceEngineRuntime> StartWithStore(AdapterStoreOptions adapters, EngineOptions? options = null) =>
        EngineComposition.StartAsync((options ?? new EngineOptions { KvCacheBytes = 8L * 1024 * 1024 }) with { ModelPath = LlamaTinyDirectory },
            adapters, NullLoggerFactory.Instance, TimeProvider.System);

    /// <summary>The llama-tiny fixture's PEFT adapters (qv-r8, all-r16, qv-r4-layer1) as an adapter root.</summary>
    public static AdapterStoreOptions FixtureAdapters(int deviceSlots = 4, bool merge = false) => new()
    {
        AdapterRoots = [Path.Combine(ReferenceFixtures.Root, "llama-tiny", "adapters")],
        DeviceSlots = deviceSlots,
        MaxRank = 16,
        MergeEnabled = merge,
    };

    /// <summary>A greedy request for <paramref name="tokens"/> new tokens after a token-id prompt.</summary>
    public static GenerationRequest Greedy(IReadOnlyList<int> prompt, int tokens, string? adapter = null) =>
        new(adapter, null, prompt, tokens, new Kernels.Sampling.SamplingParameters { Temperature = 0 }, [], [], IgnoreEos: true);

    /// <summary>Runs a request to the end and returns its deltas and final event.</summary>
    public static async Task<(List<TokenDelta> Deltas, GenerationFinished Final)> Collect(IInferenceEngine engine, GenerationRequest request,
        CancellationToken cancellationToken = default)
    {
        var deltas = new List<TokenDelta>();
        GenerationFinished? final = null;
        await foreach (var update in engine.GenerateAsync(request, cancellationToken))
        {
            if (update is TokenDelta delta)
                deltas.Add(delta);
            else
                final = (GenerationFinished)update;
        }
        return (deltas, final ?? throw new InvalidOperationException("the stream ended without a final event"));
    }

    /// <summary>Generated token ids of a finished request.</summary>
    public static int[] TokenIds(IEnumerable<TokenDelta> deltas) => deltas.SelectMany(d => d.TokenIds).ToArray();
}
