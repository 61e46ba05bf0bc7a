using InferServer.AdapterStore.Configuration;
using InferServer.Benchmarks.Peer;
using InferServer.Demo;
using InferServer.Engine;
using InferServer.Engine.Composition;
using InferServer.Kernels.Sampling;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferServer.Server.Tests.Benchmarks;

/// <summary>
/// The peer benchmark's GGUF conversion (benchmarks/.../Peer): the demo Llama and its six adapters (rsLoRA, rank and alpha
/// patterns, layers_to_transform, regex targets) converted to GGUF load in llama.cpp and give InferServer's greedy tokens.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class LlamaGgufConverterTests
{
    private const int NewTokens = 12;

    private static readonly int[][] Prompts =
    [
        [464, 2068, 7586, 21831, 18045],
        [15496, 11, 995, 0, 314, 716, 257, 1332, 3303],
        [40, 1842, 262, 1708, 286, 262, 2746, 4382, 11, 290, 340, 815, 467],
    ];

    [Fact]
    public async Task ConvertedDemoLlama_AndEachAdapter_GiveInferServersGreedyTokens_InLlamaCpp()
    {
        var model = DemoModelGenerator.EnsureDefault(ProcessScratch.Directory("peer-demo"));
        var adaptersRoot = Path.Combine(model, "adapters");
        var adapters = Directory.GetDirectories(adaptersRoot).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(6, adapters.Length);
        var gguf = ProcessScratch.Directory("peer-demo-gguf");
        var converter = new LlamaGgufConverter(model);
        converter.WriteModel(Path.Combine(gguf, "model.gguf"));
        foreach (var adapter in adapters)
        {
            converter.WriteAdapter(Path.Combine(adaptersRoot, adapter!), Path.Combine(gguf, adapter + ".gguf"));
        }

        var runtime = await EngineComposition.StartAsync(
            new EngineOptions { ModelPath = model, KvCacheBytes = 16L * 1024 * 1024, MaxBatchRows = Prompts.Length },
            new AdapterStoreOptions { AdapterRoots = [adaptersRoot], DeviceSlots = adapters.Length, MaxRank = 16 },
            NullLoggerFactory.Instance, TimeProvider.System);
        await using var engine = runtime.Engine;
        using var peer = new LlamaCppPeer(Path.Combine(gguf, "model.gguf"), Prompts.Length, 32, threads: 2);
        foreach (var adapter in adapters)
        {
            peer.LoadAdapter(adapter!, Path.Combine(gguf, adapter + ".gguf"));
        }

        int[][]? baseTokens = null;
        var adaptersThatChangeTokens = 0;
        foreach (var adapter in adapters.Prepend(null))
        {
            var server = await Task.WhenAll(Prompts.Select(prompt => PeerBenchmark.GreedyTokens(engine,
                new GenerationRequest(adapter, null, prompt, NewTokens, new SamplingParameters { Temperature = 0 }, [], [], IgnoreEos: true))));
            var llama = peer.Generate(Prompts, NewTokens, adapter);
            for (var i = 0; i < Prompts.Length; i++)
            {
                Assert.True(server[i].SequenceEqual(llama[i]),
                    $"{adapter ?? "base"}, prompt {i}: InferServer [{string.Join(",", server[i])}], llama.cpp [{string.Join(",", llama[i])}]");
            }
            if (adapter is null)
            {
                baseTokens = llama;
            }
            else if (!llama.Zip(baseTokens!).All(pair => pair.First.SequenceEqual(pair.Second)))
            {
                adaptersThatChangeTokens++;
            }
        }
        // Agreement must not come from adapters llama.cpp ignored: most of them change the demo's greedy tokens.
        Assert.True(adaptersThatChangeTokens >= 3, $"only {adaptersThatChangeTokens} of {adapters.Length} adapters change the base model's tokens");
    }
}
