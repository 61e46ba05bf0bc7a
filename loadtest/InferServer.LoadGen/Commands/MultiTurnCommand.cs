using System.Text.Json;
using InferServer.LoadGen.MultiTurn;
using InferServer.LoadGen.Targets;

namespace InferServer.LoadGen.Commands;

/// <summary>
/// multiturn: one run of the multi-turn chat scenario against a running server (run it once with the server's
/// Engine:PrefixCaching on and once off, labelled accordingly); multiturn-report: pairs them (loadtest/run-prefix.sh).
/// </summary>
public static class MultiTurnCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static async Task<int> ExecuteAsync(CommandLine commandLine)
    {
        var target = new Uri(commandLine.String("target", "http://127.0.0.1:50161"));
        if (LoopbackGuard.Check(target, commandLine.Flag("allow-remote")) is { } refusal)
        {
            throw new ArgumentException(refusal);
        }

        var options = new MultiTurnOptions(
            target,
            commandLine.String("label", MultiTurnReport.On),
            commandLine.Int("round", 1, 0, 1000),
            commandLine.Int("conversations", 32, 1, 4096),
            commandLine.Int("adapters", 8, 1, 1000),
            commandLine.String("adapter-prefix", "tenant-"),
            commandLine.Double("zipf-alpha", 1.2, 0, 10),
            commandLine.Int("system-tokens", 1000, 1, 100_000),
            commandLine.Int("turns", 8, 1, 100),
            commandLine.Int("user-tokens", 50, 1, 10_000),
            commandLine.Int("max-new-tokens", 64, 1, 4096),
            commandLine.Int("vocabulary", 32000, 200, 1_000_000),
            commandLine.Int("seed", 1, 0, int.MaxValue),
            commandLine.OptionalString("api-key"));
        var json = commandLine.OptionalString("json") ?? throw new ArgumentException("--json FILE is required");
        ThrowOnUnused(commandLine);

        var result = await MultiTurnDriver.RunAsync(options, CancellationToken.None);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(json))!);
        await File.WriteAllTextAsync(json, JsonSerializer.Serialize(result, Json));
        var failed = result.Turns.Count(turn => turn.Status != "OK");
        Console.WriteLine($"multiturn {options.Label} round {options.Round}: {result.Turns.Count} turns ({failed} failed) in {result.Seconds:F1} s, "
            + $"{result.OutputTokensPerSecond:F1} output tok/s, turn {options.Turns} TTFT p50 "
            + $"{MultiTurnReport.TurnTtft([result], options.Turns)?.P50:F0} ms, cached {result.Turns.Sum(t => t.CachedTokens)} of {result.Turns.Sum(t => t.PromptTokens)} prompt tokens");
        return failed == 0 ? 0 : 1;
    }

    public static int Report(CommandLine commandLine)
    {
        var directory = commandLine.OptionalString("results") ?? throw new ArgumentException("--results DIR is required");
        var outPath = commandLine.OptionalString("out") ?? throw new ArgumentException("--out PATH is required");
        ThrowOnUnused(commandLine);
        var runs = Directory.GetFiles(directory, "multiturn-*.json").Order(StringComparer.Ordinal)
            .Select(path => JsonSerializer.Deserialize<MultiTurnResult>(File.ReadAllText(path), Json)!).ToArray();
        Console.WriteLine(MultiTurnReport.Write(runs, outPath));
        return 0;
    }

    private static void ThrowOnUnused(CommandLine commandLine)
    {
        if (commandLine.Unused() is { Count: > 0 } unused)
        {
            throw new ArgumentException($"unknown option(s) {string.Join(' ', unused)}");
        }
    }
}
