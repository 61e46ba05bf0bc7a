using InferServer.LoadGen.Soak;
using InferServer.LoadGen.Targets;

namespace InferServer.LoadGen.Commands;

/// <summary>
/// soak: the soak driver against a running server (scripts/soak.sh starts one on the soak model and runs this).
/// Exit code 0 only when every invariant held; the first line printed is the published summary.
/// make-soak-model: writes the model, tenants and broken adapters the soak serves.
/// </summary>
public static class SoakCommand
{
    public static async Task<int> ExecuteAsync(CommandLine commandLine)
    {
        var grpc = new Uri(commandLine.String("target", "http://127.0.0.1:50051"));
        var openAi = new Uri(commandLine.String("openai", "http://127.0.0.1:8000"));
        var metrics = new Uri(commandLine.String("metrics", "http://127.0.0.1:50052"));
        var allowRemote = commandLine.Flag("allow-remote");
        var adminKey = commandLine.OptionalString("admin-key") ?? throw new ArgumentException("--admin-key is required (the soak unloads and loads adapters)");
        var defaults = new SoakOptions();
        var options = new SoakOptions
        {
            Seed = commandLine.Int("seed", 1, 0, int.MaxValue),
            Duration = TimeSpan.FromMinutes(commandLine.Double("minutes", 10, 0.05, 24 * 60)),
            WarmUp = TimeSpan.FromSeconds(commandLine.Double("warmup-seconds", 20, 1, 3600)),
            Concurrency = commandLine.Int("concurrency", defaults.Concurrency, 1, 1024),
            MaxNewTokens = commandLine.Int("max-new-tokens", defaults.MaxNewTokens, 2, 1024),
            LongTokens = commandLine.Int("long-tokens", defaults.LongTokens, 2, 4096),
            Prompts = commandLine.Int("prompts", defaults.Prompts, 1, 64),
            ZipfAlpha = commandLine.Double("zipf-alpha", defaults.ZipfAlpha, 0, 10),
            BurstSize = commandLine.Int("burst", defaults.BurstSize, 1, 10_000),
            BurstInterval = TimeSpan.FromSeconds(commandLine.Double("burst-interval-seconds", defaults.BurstInterval.TotalSeconds, 0.1, 3600)),
            ChurnInterval = TimeSpan.FromMilliseconds(commandLine.Double("churn-interval-ms", defaults.ChurnInterval.TotalMilliseconds, 10, 3_600_000)),
            ChurnAdapters = commandLine.Int("churn-adapters", defaults.ChurnAdapters, 0, 1000),
            SeededSampling = commandLine.Flag("seeded"),
            BrokenAdapters = commandLine.String("broken", string.Join(',', SoakModel.Broken)).Split(',', StringSplitOptions.RemoveEmptyEntries),
        };
        var apiKey = commandLine.OptionalString("api-key");
        // The server's process id, when it runs on this machine: a full collection is induced in it before each RSS reading.
        var serverPid = commandLine.Int("server-pid", 0, 0, int.MaxValue);
        if (commandLine.Unused() is { Count: > 0 } unused) throw new ArgumentException($"unknown options {string.Join(' ', unused)}");
        foreach (var target in new[] { grpc, openAi, metrics })
            if (LoopbackGuard.Check(target, allowRemote) is { } refusal) throw new ArgumentException(refusal);

        using var metricsClient = new HttpClient { BaseAddress = metrics, Timeout = TimeSpan.FromSeconds(30) };
        var driver = new SoakDriver(new SoakTargets(grpc, openAi, metrics, adminKey, apiKey), options, Console.Out)
        {
            BeforeRssReading = serverPid == 0 ? null : () => ServerCollection.CollectAsync(serverPid, metricsClient, CancellationToken.None),
        };
        if (serverPid == 0)
            Console.WriteLine("soak: no --server-pid: RSS is read wherever the server's GC happens to be, and may differ by its budgets");
        var report = await driver.RunAsync(CancellationToken.None);
        report.WriteTo(Console.Out);
        return report.Passed ? 0 : 1;
    }

    public static int MakeModel(CommandLine commandLine)
    {
        var tenants = commandLine.Int("tenants", 100, 0, 10_000);
        var seed = commandLine.Int("seed", 1, 0, int.MaxValue);
        if (commandLine.Unused() is { Count: > 0 } unused) throw new ArgumentException($"unknown options {string.Join(' ', unused)}");
        if (commandLine.Positional is not [var directory]) throw new ArgumentException("make-soak-model needs one output directory");
        var root = Path.GetFullPath(directory);
        SoakModel.Write(root, tenants, seed);
        Console.WriteLine($"model {SoakModel.ModelDirectory(root)}; adapter roots {string.Join(' ', SoakModel.AdapterRoots(root))}");
        return 0;
    }
}
