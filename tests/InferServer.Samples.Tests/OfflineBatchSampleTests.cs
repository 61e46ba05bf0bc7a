using System.Text.Json;
using InferServer.AdapterStore.Configuration;
using InferServer.Demo;
using InferServer.Engine;
using InferServer.Engine.Composition;
using InferServer.Samples.OfflineBatch;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console.Testing;

namespace InferServer.Samples.Tests;

/// <summary>
/// samples/OfflineBatch as the docs run it (docs/embedding-the-engine.md): 1,000 prompts over 10 adapters through the
/// engine in-process, results to JSONL. The batched answers must be the ones each prompt gets alone (greedy).
/// </summary>
/// <remarks>
/// No live-tensor count across engines here: TorchSharp 0.107 counts one wrapper per <c>Parameter</c> it never uncounts
/// (the constructor moves the data tensor's handle), so every model load raises the count by its parameter count while
/// freeing every tensor. The leak tests count within one engine (tests/InferServer.Engine.Tests/EngineLeakTests).
/// </remarks>
public sealed class OfflineBatchSampleTests
{
    [Fact]
    public async Task AThousandPromptsOverTenAdapters_AreWrittenInOrder_AndEqualEachPromptAlone()
    {
        using var directory = new TemporaryDirectory();
        var model = Path.Combine(directory.Path, "llama");
        DemoModelGenerator.Write(model, DemoModelKind.Llama, seed: 3);
        var adapters = Path.Combine(directory.Path, "adapters");
        DemoModelGenerator.WriteTenantAdapters(adapters, DemoModelKind.Llama, 10, rank: 8, ["q_proj", "v_proj"], seed: 3);
        var console = new TestConsole();

        var job = new BatchJob(model, adapters, Path.Combine(directory.Path, "results.jsonl"));
        var summary = await BatchRunner.RunAsync(job, console);

        var lines = File.ReadAllLines(job.OutputPath).Select(line => JsonSerializer.Deserialize<BatchResult>(line)!).ToList();
        Assert.Equal(1_000, summary.Completed);
        Assert.Equal(Enumerable.Range(0, 1_000), lines.Select(line => line.Index));
        Assert.All(lines.GroupBy(line => line.Adapter), group => Assert.Equal(100, group.Count()));
        Assert.Equal(10, lines.Select(line => line.Adapter).Distinct().Count());
        Assert.All(lines, line => Assert.True(line.CompletionTokens > 0 && line.Text.Length > 0, $"line {line.Index} is empty"));
        Assert.Contains("1000 prompts over 10 adapters", console.Output);
        // The adapters change the answers: the same prompt text is answered differently by different adapters.
        Assert.True(lines.Select(line => line.Text).Distinct().Count() > 100);

        // Each prompt alone (one request at a time, a batch of one) gives the same tokens as inside the batch of 1,000.
        await using (var runtime = await EngineComposition.StartAsync(new EngineOptions { ModelPath = model },
            new AdapterStoreOptions { AdapterRoots = [adapters] }, NullLoggerFactory.Instance, TimeProvider.System))
        {
            foreach (var line in lines.Where(line => line.Index % 97 == 0 || line.Index == 999))
                Assert.Equal(line, await BatchRunner.GenerateAsync(runtime.Engine, line.Index, line.Adapter, job, CancellationToken.None));
        }
    }
}
