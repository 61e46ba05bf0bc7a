using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using InferServer.Api.V1;
using InferServer.LoadGen.Results;
using InferServer.LoadGen.Running;
using InferServer.LoadGen.Scenarios;
using InferServer.LoadGen.Targets;
using EngineOptions = InferServer.Engine.EngineOptions;

namespace InferServer.LoadGen.Commands;

/// <summary>run: one scenario against one target; prints the summary and optionally writes it as JSON.</summary>
public static class RunCommand
{
    // Hard ceilings so that no command line makes an unbounded run.
    private const int MaxRequests = 100_000;
    private const double MaxDurationSeconds = 3600;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static async Task<int> ExecuteAsync(CommandLine commandLine)
    {
        var popularity = commandLine.Enum("scenario", Popularity.Uniform);
        var kind = commandLine.Enum("kind", RequestKind.Stream);
        var open = commandLine.String("mode", "closed") switch
        {
            "closed" => false,
            "open" => true,
            var other => throw new ArgumentException($"--mode {other}: expected closed or open"),
        };
        var requests = commandLine.Int("requests", 100, 1, MaxRequests);
        var shape = new LoadShape(
            open,
            commandLine.Int("concurrency", 8, 1, 4096),
            commandLine.Double("rate", 4, 0.001, 100_000),
            commandLine.Int("max-in-flight", 256, 1, 100_000),
            TimeSpan.FromSeconds(commandLine.Double("duration", 60, 0.1, MaxDurationSeconds)),
            TimeSpan.FromSeconds(commandLine.Double("grace", 30, 0, 600)),
            commandLine.Int("seed", 1, 0, int.MaxValue));
        var adapterCount = commandLine.Int("adapters", 100, 1, 100_000);
        var prefix = commandLine.String("adapter-prefix", "a");
        var offset = commandLine.Int("adapter-offset", 0, 0, 100_000);
        var zipfAlpha = commandLine.Double("zipf-alpha", 1.2, 0, 10);
        var settings = new RequestSettings(kind, commandLine.Int("prompt-words", 16, 1, 4096),
            commandLine.Int("max-new-tokens", 32, 1, 4096), commandLine.Int("classify-texts", 4, 1, 64));
        var warmup = commandLine.Int("warmup", 0, 0, 1000);
        var churnInterval = commandLine.Int("churn-interval-ms", 0, 0, 600_000);
        var churnAdapters = commandLine.Int("churn-adapters", 4, 1, 1000);
        var churnMaxCycles = commandLine.Int("churn-max-cycles", 100, 1, 10_000);
        var inProcess = commandLine.OptionalString("in-process");
        var target = new Uri(commandLine.String("target", "http://127.0.0.1:50051"));
        var allowRemote = commandLine.Flag("allow-remote");
        var apiKey = commandLine.OptionalString("api-key");
        var torchThreads = commandLine.Int("torch-threads", 0, 0, 1024);
        var maxBatchRows = commandLine.Int("max-batch-rows", 64, 1, 4096);
        var name = commandLine.String("name", $"{popularity}-{kind}".ToLowerInvariant());
        var jsonPath = commandLine.OptionalString("json");
        if (commandLine.Unused() is { Count: > 0 } unused) throw new ArgumentException($"unknown options {string.Join(' ', unused)}");
        if (inProcess is null && LoopbackGuard.Check(target, allowRemote) is { } refusal) throw new ArgumentException(refusal);
        if (inProcess is not null && churnInterval > 0) throw new ArgumentException("--churn-interval-ms needs a server (admin API), not --in-process");

        var plan = AdapterSchedule.Build(popularity, requests, adapterCount, prefix, shape.Seed, zipfAlpha, offset);
        await using IGenerationTarget generationTarget = inProcess is not null
            ? await InProcessEngineTarget.StartAsync(inProcess, settings, new EngineOptions { TorchThreads = torchThreads, MaxBatchRows = maxBatchRows, MaxBatchTokens = Math.Max(512, maxBatchRows) })
            : new GrpcGenerationTarget(GrpcGenerationTarget.CreateChannel(target), settings, apiKey);

        if (warmup > 0)
        {
            // Base-model requests, one at a time: JIT, libtorch's first-call allocations and the connection, not measured.
            var warmupPlan = AdapterSchedule.Build(Popularity.Base, warmup, 1, prefix, shape.Seed);
            await new LoadRunner(generationTarget, shape with { Open = false, Concurrency = 1 }).RunAsync(warmupPlan, new RunClock(), CancellationToken.None);
        }

        using var churnStop = new CancellationTokenSource();
        Task<ChurnSummary>? churn = null;
        GrpcChannelHolder? adminChannel = null;
        if (churnInterval > 0)
        {
            adminChannel = new GrpcChannelHolder(target);
            var headers = apiKey is { Length: > 0 } ? new Metadata { { "authorization", $"Bearer {apiKey}" } } : [];
            var churned = Enumerable.Range(0, Math.Min(churnAdapters, adapterCount)).Select(i => AdapterSchedule.AdapterName(prefix, offset + i)).ToArray();
            churn = new ChurnDriver(new Admin.AdminClient(adminChannel.Channel), headers, churned, TimeSpan.FromMilliseconds(churnInterval), churnMaxCycles)
                .RunAsync(churnStop.Token);
        }

        var runner = new LoadRunner(generationTarget, shape);
        var (outcomes, wallSeconds) = await runner.RunAsync(plan, new RunClock(), CancellationToken.None);
        churnStop.Cancel();
        var churnSummary = churn is null ? null : await churn;
        adminChannel?.Dispose();

        var recorded = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["adapters"] = adapterCount.ToString(CultureInfo.InvariantCulture),
            ["adapter_offset"] = offset.ToString(CultureInfo.InvariantCulture),
            ["zipf_alpha"] = zipfAlpha.ToString(CultureInfo.InvariantCulture),
            ["max_new_tokens"] = settings.MaxNewTokens.ToString(CultureInfo.InvariantCulture),
            ["prompt_words"] = settings.PromptWords.ToString(CultureInfo.InvariantCulture),
            ["duration_s"] = shape.Duration.TotalSeconds.ToString(CultureInfo.InvariantCulture),
            ["seed"] = shape.Seed.ToString(CultureInfo.InvariantCulture),
            ["warmup"] = warmup.ToString(CultureInfo.InvariantCulture),
            ["churn_interval_ms"] = churnInterval.ToString(CultureInfo.InvariantCulture),
        };
        var summary = RunSummary.From(name, generationTarget.Description, popularity.ToString().ToLowerInvariant(),
            $"{shape.Describe()} {kind.ToString().ToLowerInvariant()}", recorded, plan.Count, runner.Shed, outcomes, wallSeconds, churnSummary);
        SummaryPrinter.Print(summary, Console.Out);
        if (jsonPath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!);
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(summary, Json));
        }
        return 0;
    }

    /// <summary>The admin client's own channel, so admin calls do not queue behind the workload's streams.</summary>
    private sealed class GrpcChannelHolder(Uri target) : IDisposable
    {
        public Grpc.Net.Client.GrpcChannel Channel { get; } = GrpcGenerationTarget.CreateChannel(target);

        public void Dispose() => Channel.Dispose();
    }
}
