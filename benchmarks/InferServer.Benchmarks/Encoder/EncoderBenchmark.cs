using InferServer.Engine.Composition;
using System.Diagnostics;
using System.Globalization;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using InferServer.AdapterStore.Configuration;
using InferServer.Api.V1;
using InferServer.Demo;
using InferServer.Engine;
using InferServer.Server.Hosting;
using InferServer.Demo.Import;
using InferServer.Engine.Tokenization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace InferServer.Benchmarks.Encoder;

/// <summary>
/// all-MiniLM-L6-v2 throughput (texts/s) of the engine's Classify and Embed beside ONNX Runtime running the package's own
/// graph on the same token ids, the same threads, in the same process: batches of 1, 8 and 64 texts of about 25 and of
/// 128 tokens; in process and through gRPC. Cells are interleaved round by round and each ratio is the median of the
/// per-round ratios, which cancels the drift of a shared machine. Each call is timed twice: wall clock, and the CPU time
/// this process spent on it (engine, ONNX Runtime and gRPC threads alike). On an oversubscribed machine (other builds
/// running) wall time mostly measures waiting for a core, while CPU time still measures the work; ONNX Runtime's
/// intra-op threads are told not to spin, so that its CPU time is work too, not busy-waiting. Prints a markdown table and
/// the headline <c>encoder-ratio inferserver/onnxruntime</c> (Embed, 64 texts of ~25 tokens, in process). Never asserts on time.
/// </summary>
public static class EncoderBenchmark
{
    private static readonly string[] Sentences =
    [
        "The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden porch.",
        "Stocks fell sharply on Tuesday after the central bank unexpectedly raised interest rates again.",
        "She spent the whole afternoon reading a mystery novel in the quiet corner of the city library.",
        "Researchers found that regular exercise improves memory and mood in adults of every age group.",
        "The restaurant on the corner serves the best fresh pasta I have eaten outside of northern Italy.",
        "Heavy rain is expected across the region tonight, so drivers should allow extra time for trips.",
        "Our team shipped the new release on Friday after fixing the last bugs found during final testing.",
        "A small boat drifted slowly along the river as the sun set behind the hills to the west of town.",
    ];

    private enum Cell { OnnxRuntime, Embed, EmbedLora, Classify, GrpcEmbed, GrpcClassify }

    public static int Run(EncoderBenchmarkOptions options)
    {
        if (!DemoModelGenerator.IsComplete(options.ModelDirectory, DemoModelKind.MiniLm))
            DemoModelGenerator.Write(options.ModelDirectory, DemoModelKind.MiniLm);
        var tokenizer = TokenizerLoader.Load(options.ModelDirectory);
        var texts = new Dictionary<string, string[]>
        {
            ["~25 tokens"] = Texts(tokenizer, 25, options.Batches.Max()),
            ["128 tokens"] = Texts(tokenizer, 128, options.Batches.Max()),
        };
        var engineOptions = new EngineOptions
        {
            ModelPath = options.ModelDirectory,
            TorchThreads = options.Threads,
            MaxBatchRows = 64,
        };
        if (options.EncoderBatchTokens > 0)
            engineOptions = engineOptions with { EncoderMaxBatchTokens = options.EncoderBatchTokens };
        var adapters = new AdapterStoreOptions { AdapterRoots = [Path.Combine(options.ModelDirectory, "adapters")], DeviceSlots = 4, MaxRank = 16 };
        using var onnxOptions = new Microsoft.ML.OnnxRuntime.SessionOptions
        { IntraOpNumThreads = options.Threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        onnxOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", options.OnnxSpinning ? "1" : "0");
        using var onnx = new InferenceSession(ManagedResources.Read(MiniLmPackage.LocateAssembly(), MiniLmPackage.ModelResource), onnxOptions);
        var engine = EngineComposition.StartAsync(engineOptions, adapters, NullLoggerFactory.Instance, TimeProvider.System)
            .GetAwaiter().GetResult().Engine;
        var server = options.Grpc ? StartServer(engineOptions, adapters).GetAwaiter().GetResult() : null;
        using var channel = server is null ? null : GrpcChannel.ForAddress(server.Services.GetRequiredService<ServerEndpoints>().GrpcAddress!);
        var client = channel is null ? null : new Inference.InferenceClient(channel);
        var cells = Enum.GetValues<Cell>().Where(c => client is not null || c is not (Cell.GrpcEmbed or Cell.GrpcClassify)).ToArray();
        Console.WriteLine($"# encoder benchmark: all-MiniLM-L6-v2, {options.Threads} threads, median of {options.Repeats} rounds, "
                          + $"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at start, {Environment.ProcessorCount} cores");
        var samples = new Dictionary<(string, int, Cell), List<double>>();
        var cpuSamples = new Dictionary<(string, int, Cell), List<double>>();
        try
        {
            for (var round = -1; round < options.Repeats; round++) // round -1 warms every path up
                foreach (var (length, all) in texts)
                    foreach (var batch in options.Batches)
                        foreach (var cell in cells)
                        {
                            var (rate, cpuRate) = Measure(cell, all[..batch], tokenizer, onnx, engine, client);
                            if (round < 0) continue;
                            (samples.TryGetValue((length, batch, cell), out var list) ? list : samples[(length, batch, cell)] = []).Add(rate);
                            (cpuSamples.TryGetValue((length, batch, cell), out var cpu) ? cpu : cpuSamples[(length, batch, cell)] = []).Add(cpuRate);
                            Console.Error.WriteLine($"  {length} x{batch} {cell}: {rate:F1} texts/s, {cpuRate:F1} texts/CPU-s");
                        }
        }
        finally
        {
            server?.StopAsync().GetAwaiter().GetResult();
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        Console.WriteLine("\nWall clock, texts/s:");
        Print(samples, texts.Keys, options, cells, "wall");
        Console.WriteLine("\nCPU time of this process, texts per CPU-second:");
        Print(cpuSamples, texts.Keys, options, cells, "cpu");
        AttentionCause.Run(options.Repeats);
        Console.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at end");
        return 0;
    }

    /// <summary>Texts of exactly <paramref name="tokens"/> tokens (with [CLS] and [SEP]), cut from the sentences at word boundaries.</summary>
    private static string[] Texts(TextTokenizer tokenizer, int tokens, int count) => Enumerable.Range(0, count).Select(i =>
    {
        var words = Enumerable.Range(0, 64).SelectMany(k => Sentences[(i + k) % Sentences.Length].Split(' ')).ToArray();
        var text = "";
        foreach (var word in words)
        {
            var longer = text.Length == 0 ? word : text + " " + word;
            if (tokenizer.Encode(longer, addSpecialTokens: true).Count > tokens) break;
            text = longer;
        }
        return text;
    }).ToArray();

    private static (double Wall, double Cpu) Measure(Cell cell, string[] texts, TextTokenizer tokenizer, InferenceSession onnx, InferenceEngine engine,
        Inference.InferenceClient? client)
    {
        // Token ids are prepared outside the timed region for ONNX Runtime; the engine tokenizes inside it (its real cost).
        var ids = cell == Cell.OnnxRuntime ? texts.Select(t => tokenizer.Encode(t, addSpecialTokens: true)).ToArray() : null;
        var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        switch (cell)
        {
            case Cell.OnnxRuntime: RunOnnx(onnx, ids!); break;
            case Cell.Embed: engine.EmbedAsync(new EmbeddingRequest(null, texts)).GetAwaiter().GetResult(); break;
            case Cell.EmbedLora: engine.EmbedAsync(new EmbeddingRequest("embed-r8", texts)).GetAwaiter().GetResult(); break;
            case Cell.Classify: engine.ClassifyAsync(new ClassificationRequest("sentiment-cls2", texts)).GetAwaiter().GetResult(); break;
            case Cell.GrpcEmbed: client!.Embed(new EmbedRequest { Texts = { texts } }); break;
            case Cell.GrpcClassify: client!.Classify(new ClassifyRequest { Adapter = "sentiment-cls2", Texts = { texts } }); break;
        }
        var wall = watch.Elapsed.TotalSeconds;
        process.Refresh();
        return (texts.Length / wall, texts.Length / (process.TotalProcessorTime - cpuBefore).TotalSeconds);
    }

    /// <summary>One padded batch with its attention mask, as sentence-transformers feeds the graph; mean pooling included.</summary>
    private static void RunOnnx(InferenceSession onnx, IReadOnlyList<int>[] ids)
    {
        var width = ids.Max(i => i.Count);
        var input = new long[ids.Length * width];
        var mask = new long[ids.Length * width];
        for (var r = 0; r < ids.Length; r++)
            for (var t = 0; t < ids[r].Count; t++)
            {
                input[r * width + t] = ids[r][t];
                mask[r * width + t] = 1;
            }
        int[] shape = [ids.Length, width];
        using var outputs = onnx.Run(
        [
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(input, shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, shape)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[input.Length], shape)),
        ]);
        var hidden = outputs.First(o => o.Name == "last_hidden_state").AsTensor<float>();
        var pooled = new float[ids.Length, hidden.Dimensions[2]];
        for (var r = 0; r < ids.Length; r++)
            for (var t = 0; t < ids[r].Count; t++)
                for (var h = 0; h < hidden.Dimensions[2]; h++)
                    pooled[r, h] += hidden[r, t, h] / ids[r].Count;
    }

    private static async Task<WebApplication> StartServer(EngineOptions engine, AdapterStoreOptions adapters)
    {
        var builder = InferServerApplication.CreateBuilder([]);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Api:Host"] = "127.0.0.1",
            ["Api:GrpcPort"] = "0",
            ["Api:HttpPort"] = "0",
            ["Api:OpenAiPort"] = "0",
            ["Engine:ModelPath"] = engine.ModelPath,
            ["Engine:TorchThreads"] = engine.TorchThreads.ToString(CultureInfo.InvariantCulture),
            ["Engine:EncoderMaxBatchTokens"] = engine.EncoderMaxBatchTokens.ToString(CultureInfo.InvariantCulture),
            ["Adapters:AdapterRoots:0"] = adapters.AdapterRoots[0],
        });
        builder.Logging.ClearProviders();
        builder.AddInferenceEngine(ServedEngineComposition.FromServices);
        var app = builder.Build();
        app.MapInferServer();
        await app.StartAsync();
        return app;
    }

    private static void Print(Dictionary<(string, int, Cell), List<double>> samples, IEnumerable<string> lengths, EncoderBenchmarkOptions options,
        Cell[] cells, string clock)
    {
        double Median((string, int, Cell) key) => Statistics.Median(samples[key]);
        // Per-round ratio against ONNX Runtime (or the base Embed for LoRA), then the median of those.
        double Ratio(string length, int batch, Cell cell, Cell against) =>
            Statistics.Median(samples[(length, batch, cell)].Zip(samples[(length, batch, against)], (a, b) => a / b));
        Console.WriteLine();
        Console.WriteLine("| texts | batch | ONNX Runtime | " + string.Join(" | ", cells.Skip(1)) + " | Embed / ORT | Classify / ORT | LoRA cost (Embed) |");
        Console.WriteLine("|---|---:|---:|" + string.Concat(cells.Skip(1).Select(_ => "---:|")) + "---:|---:|---:|");
        foreach (var length in lengths)
            foreach (var batch in options.Batches)
                Console.WriteLine(FormattableString.Invariant($"| {length} | {batch} | {Median((length, batch, Cell.OnnxRuntime)):F0} | ")
                    + string.Join(" | ", cells.Skip(1).Select(c => Median((length, batch, c)).ToString("F0", CultureInfo.InvariantCulture)))
                    + FormattableString.Invariant($" | {Ratio(length, batch, Cell.Embed, Cell.OnnxRuntime):F2} | {Ratio(length, batch, Cell.Classify, Cell.OnnxRuntime):F2}")
                    + FormattableString.Invariant($" | {(1 / Ratio(length, batch, Cell.EmbedLora, Cell.Embed) - 1) * 100:F1} % |"));
        var headline = options.Batches.Contains(64) ? Ratio("~25 tokens", 64, Cell.Embed, Cell.OnnxRuntime) : double.NaN;
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"encoder-ratio inferserver/onnxruntime={headline:F2} ({clock})"));
    }
}
