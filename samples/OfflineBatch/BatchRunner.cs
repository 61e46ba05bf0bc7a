using System.Diagnostics;
using System.Text;
using System.Text.Json;
using InferServer.AdapterStore.Configuration;
using InferServer.Engine;
using InferServer.Engine.Composition;
using InferServer.Kernels.Sampling;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;

namespace InferServer.Samples.OfflineBatch;

/// <summary>
/// Loads the engine in-process, submits every prompt at once (the engine batches them across adapters, each row with
/// its own adapter, and queues what does not fit), shows progress, and writes the results in prompt order.
/// </summary>
public static class BatchRunner
{
    /// <summary>Requests in flight at once: the engine's queue bound, so nothing is refused as QueueFull.</summary>
    private const int InFlight = 256;

    public static async Task<BatchSummary> RunAsync(BatchJob job, IAnsiConsole console, CancellationToken cancellationToken = default)
    {
        var adapters = Directory.GetDirectories(job.AdaptersDirectory).Select(Path.GetFileName).OfType<string>()
            .Order(StringComparer.Ordinal).Take(job.Adapters).ToArray();
        if (adapters.Length == 0)
        {
            throw new ArgumentException($"no adapter directories in {job.AdaptersDirectory}");
        }

        var engineOptions = new EngineOptions { ModelPath = job.ModelDirectory, MaxQueuedRequests = InFlight };
        var adapterOptions = new AdapterStoreOptions { AdapterRoots = [job.AdaptersDirectory] };
        await using var runtime = await EngineComposition.StartAsync(engineOptions, adapterOptions, NullLoggerFactory.Instance,
            TimeProvider.System, cancellationToken);

        var results = new BatchResult[job.Prompts];
        var timer = Stopwatch.StartNew();
        await console.Progress().StartAsync(async progress =>
        {
            var task = progress.AddTask($"{job.Prompts} prompts over {adapters.Length} adapters", maxValue: job.Prompts);
            using var slots = new SemaphoreSlim(InFlight);
            var running = Enumerable.Range(0, job.Prompts).Select(async index =>
            {
                await slots.WaitAsync(cancellationToken);
                try
                {
                    results[index] = await GenerateAsync(runtime.Engine, index, adapters[index % adapters.Length], job, cancellationToken);
                    task.Increment(1);
                }
                finally
                {
                    slots.Release();
                }
            });
            await Task.WhenAll(running);
        });
        timer.Stop();

        await using (var output = new StreamWriter(job.OutputPath, append: false, new UTF8Encoding(false)))
        {
            foreach (var result in results)
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(result));
            }
        }
        return new BatchSummary(results.Length, results.Sum(result => (long)result.CompletionTokens), timer.Elapsed);
    }

    /// <summary>One prompt of the batch: a greedy generation on its adapter.</summary>
    internal static async Task<BatchResult> GenerateAsync(IInferenceEngine engine, int index, string adapter, BatchJob job,
        CancellationToken cancellationToken)
    {
        var prompt = $"Story {index}: once upon a time";
        var request = new GenerationRequest(adapter, prompt, null, job.MaxNewTokens, new SamplingParameters { Temperature = 0 }, [], []);
        var text = new StringBuilder();
        await foreach (var generated in engine.GenerateAsync(request, cancellationToken))
        {
            switch (generated)
            {
                case TokenDelta delta:
                    text.Append(delta.Text);
                    break;
                case GenerationFinished finished:
                    return new BatchResult(index, adapter, prompt, text.ToString(), finished.Reason.ToString(),
                        finished.Usage.PromptTokens, finished.Usage.CompletionTokens);
            }
        }
        throw new InvalidOperationException("the generation ended without its finish event");
    }
}
