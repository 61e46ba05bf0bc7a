using LLama;
using LLama.Common;
using LLama.Native;

namespace InferServer.Benchmarks.Peer;

/// <summary>
/// llama.cpp (through LLamaSharp) on a converted GGUF: greedy generation of token-id prompts, batched as llama.cpp batches
/// (one <c>llama_decode</c> of every sequence's prompt, logits at each last token, then one of one token per sequence per
/// step). Flash attention is off: with it llama.cpp casts F32 K/V to F16, and its tokens stop matching exact F32 math.
/// LoRA adapters apply to the whole context, so a batch runs on one adapter (or none).
/// </summary>
public sealed class LlamaCppPeer : IDisposable
{
    private readonly LLamaWeights weights;
    private readonly LLamaContext context;
    private readonly Dictionary<string, LoraAdapter> adapters = new(StringComparer.Ordinal);
    private readonly LLamaBatch batch = new();
    private readonly int vocabulary;
    private string? activeAdapter;

    // llama.cpp logs every graph reservation at info level; only its errors are worth a benchmark's output.
    static LlamaCppPeer() => NativeLibraryConfig.All.WithLogCallback((level, message) =>
    {
        if (level == LLamaLogLevel.Error)
        {
            Console.Error.Write(message);
        }
    });

    /// <summary>Loads <paramref name="ggufPath"/> with room for <paramref name="maxSequences"/> sequences of <paramref name="maxTokens"/> tokens each.</summary>
    public LlamaCppPeer(string ggufPath, int maxSequences, int maxTokens, int threads)
    {
        var parameters = new ModelParams(ggufPath)
        {
            GpuLayerCount = 0,
            ContextSize = (uint)(maxSequences * maxTokens),
            SeqMax = (uint)maxSequences,
            KVUnified = true,
            BatchSize = (uint)Math.Max(512, maxSequences * maxTokens),
            UBatchSize = (uint)Math.Max(512, maxSequences * maxTokens),
            Threads = threads,
            BatchThreads = threads,
            FlashAttention = false,
            // F32 keys and values, as the engine keeps them: llama.cpp's default F16 cache rounds every cached K and V.
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
        };
        weights = LLamaWeights.LoadFromFile(parameters);
        context = weights.CreateContext(parameters);
        vocabulary = weights.Vocab.Count;
    }

    /// <summary>Loads a GGUF LoRA adapter under <paramref name="name"/>.</summary>
    public void LoadAdapter(string name, string ggufPath) => adapters[name] = weights.NativeHandle.LoadLoraFromFile(ggufPath);

    /// <summary>
    /// Greedy tokens for every prompt, all sequences in one batch on <paramref name="adapter"/> (null: the base model).
    /// <paramref name="onStep"/> hears each step's end (for timing the first token).
    /// </summary>
    public int[][] Generate(IReadOnlyList<int[]> prompts, int newTokens, string? adapter, Action<int>? onStep = null)
    {
        UseAdapter(adapter);
        var handle = context.NativeHandle;
        handle.MemoryClear(true);
        batch.Clear();
        var logitIndex = new int[prompts.Count];
        for (var s = 0; s < prompts.Count; s++)
        {
            var tokens = prompts[s].Select(t => (LLamaToken)t).ToArray();
            logitIndex[s] = batch.AddRange(tokens, 0, (LLamaSeqId)s, true);
        }
        var outputs = prompts.Select(_ => new int[newTokens]).ToArray();
        for (var step = 0; step < newTokens; step++)
        {
            var result = handle.Decode(batch);
            if (result != DecodeResult.Ok)
            {
                throw new InvalidOperationException($"llama_decode returned {result}");
            }
            for (var s = 0; s < prompts.Count; s++)
            {
                outputs[s][step] = ArgMax(handle.GetLogitsIth(logitIndex[s]));
            }
            onStep?.Invoke(step);
            if (step + 1 == newTokens)
            {
                break;
            }
            batch.Clear();
            for (var s = 0; s < prompts.Count; s++)
            {
                logitIndex[s] = batch.Add(outputs[s][step], prompts[s].Length + step, (LLamaSeqId)s, true);
            }
        }
        return outputs;
    }

    private void UseAdapter(string? adapter)
    {
        if (adapter == activeAdapter)
        {
            return;
        }
        if (adapter is null)
        {
            context.NativeHandle.SetLoraAdapters([]);
        }
        else
        {
            (LoraAdapter, float)[] set = [(adapters[adapter], 1f)];
            context.NativeHandle.SetLoraAdapters(set);
        }
        activeAdapter = adapter;
    }

    // The first maximum, as the engine's greedy sampler picks it.
    private int ArgMax(Span<float> logits)
    {
        var best = 0;
        for (var i = 1; i < vocabulary; i++)
        {
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }
        return best;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        batch.Clear();
        foreach (var adapter in adapters.Values)
        {
            adapter.Unload();
        }
        context.Dispose();
        weights.Dispose();
    }
}
