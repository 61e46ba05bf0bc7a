using System.Globalization;
using System.Text;
using System.Text.Json;
using InferServer.LoadGen.Results;

namespace InferServer.LoadGen.Commands;

/// <summary>
/// report: turns a directory of run JSON files (written by run-matrix.sh) into the markdown results page: the machine,
/// the headline comparisons, and every run. A comparison whose runs served nothing says so and why (the status codes)
/// instead of showing a number.
/// </summary>
public static class ReportCommand
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static int Execute(CommandLine commandLine)
    {
        var resultsDirectory = commandLine.String("results", "");
        var model = commandLine.String("model", "demo");
        var machineFile = commandLine.String("machine", "");
        var notesFile = commandLine.OptionalString("notes");
        var output = commandLine.String("out", "");
        if (commandLine.Unused() is { Count: > 0 } unused) throw new ArgumentException($"unknown options {string.Join(' ', unused)}");
        if (resultsDirectory.Length == 0 || output.Length == 0) throw new ArgumentException("report needs --results DIR and --out FILE");

        var runs = Directory.GetFiles(resultsDirectory, "*.json").Order(StringComparer.Ordinal)
            .Select(path => JsonSerializer.Deserialize<RunSummary>(File.ReadAllText(path), Json)!)
            .ToDictionary(run => run.Name, StringComparer.Ordinal);
        var page = new StringBuilder();
        page.AppendLine(CultureInfo.InvariantCulture, $"# Load test results: {model} model");
        page.AppendLine();
        page.AppendLine("Written by `loadtest/run-matrix.sh`; numbers are what that run measured on the machine below, nothing else.");
        page.AppendLine("Re-run it on your machine rather than comparing across machines.");
        page.AppendLine();
        page.AppendLine("## Machine");
        page.AppendLine();
        if (machineFile.Length > 0) page.AppendLine(File.ReadAllText(machineFile).TrimEnd());
        page.AppendLine();
        if (notesFile is not null && File.Exists(notesFile))
        {
            page.AppendLine("## Run settings");
            page.AppendLine();
            page.AppendLine(File.ReadAllText(notesFile).TrimEnd());
            page.AppendLine();
        }
        page.AppendLine("## Headlines");
        page.AppendLine();
        Headlines(page, runs);
        page.AppendLine();
        page.AppendLine("## Every run");
        page.AppendLine();
        page.AppendLine("| run | scenario | mode | ok/sent | req/s | out tok/s | TTFT p50/p90/p99 ms | server TTFT p50 ms | TPOT p50/p90/p99 ms | statuses |");
        page.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var run in runs.Values)
        {
            page.AppendLine(CultureInfo.InvariantCulture,
                $"| {run.Name} | {run.Scenario} | {run.Mode} | {run.Succeeded}/{run.Sent} | {run.RequestsPerSecond:0.00} | {run.OutputTokensPerSecond:0.0} | " +
                $"{Triple(run.TimeToFirstTokenMs)} | {P50(run.ServerTimeToFirstTokenMs)} | {Triple(run.TimePerOutputTokenMs)} | {Statuses(run.StatusCounts)} |");
        }
        var churned = runs.Values.Where(run => run.Churn is not null).ToArray();
        if (churned.Length > 0)
        {
            page.AppendLine();
            page.AppendLine("Adapter churn (admin Unload + Load while serving):");
            page.AppendLine();
            foreach (var run in churned)
            {
                var churn = run.Churn!;
                if (churn.Cycles == 0)
                {
                    page.AppendLine($"- {run.Name}: no churn cycle started before the traffic ended");
                    continue;
                }
                page.AppendLine(CultureInfo.InvariantCulture,
                    $"- {run.Name}: {churn.Cycles} cycles, admin statuses {Statuses(churn.StatusCounts)}, unload p50 {P50(churn.UnloadMs)} ms, load p50 {P50(churn.LoadMs)} ms");
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        File.WriteAllText(output, page.ToString());
        Console.WriteLine($"wrote {output}");
        return 0;
    }

    private static void Headlines(StringBuilder page, IReadOnlyDictionary<string, RunSummary> runs)
    {
        page.AppendLine("| comparison | result | runs |");
        page.AppendLine("|---|---|---|");
        string Throughput(string name) => Measured(runs, name) is { } run ? $"{run.OutputTokensPerSecond:0.0} tok/s ({run.RequestsPerSecond:0.00} req/s)" : NotMeasured(runs, name);

        page.AppendLine($"| base model only | {Throughput("base")} | base |");
        foreach (var name in new[] { "identical", "uniform", "zipf", "distinct" })
        {
            page.AppendLine($"| multi-adapter, {name} | {Throughput(name)}{Ratio(runs, name, "base", "of base")} | {name} |");
        }
        page.AppendLine($"| naive one-adapter-at-a-time (uniform traffic grouped by adapter) | {Throughput("naive")}{Ratio(runs, "uniform", "naive", "uniform / naive")} | naive, uniform |");
        page.AppendLine($"| merge cache under Zipf: on | {Throughput("zipf")} | zipf |");
        page.AppendLine($"| merge cache under Zipf: off | {Throughput("zipf-nomerge")}{Ratio(runs, "zipf", "zipf-nomerge", "on / off")} | zipf-nomerge |");

        var hotLoad = Measured(runs, "coldwarm") is { ColdServerTimeToFirstTokenMs: { } cold, WarmServerTimeToFirstTokenMs: { } warm }
            ? string.Create(CultureInfo.InvariantCulture, $"{cold.P50 - warm.P50:0.0} ms (cold TTFT p50 {cold.P50:0.0} ms − warm TTFT p50 {warm.P50:0.0} ms, {cold.Count} adapters)")
            : NotMeasured(runs, "coldwarm");
        page.AppendLine($"| adapter hot-load latency | {hotLoad} | coldwarm |");

        var overhead = Measured(runs, "base") is { } grpc && Measured(runs, "inprocess") is { } inProcess
            ? string.Create(CultureInfo.InvariantCulture,
                $"gRPC {grpc.OutputTokensPerSecond:0.0} vs in-process {inProcess.OutputTokensPerSecond:0.0} tok/s ({grpc.OutputTokensPerSecond / inProcess.OutputTokensPerSecond:P0}); " +
                $"TTFT p50 {P50(grpc.TimeToFirstTokenMs)} vs {P50(inProcess.TimeToFirstTokenMs)} ms")
            : NotMeasured(runs, Measured(runs, "base") is null ? "base" : "inprocess");
        page.AppendLine($"| server overhead (same requests through gRPC vs the engine in-process) | {overhead} | base, inprocess |");
    }

    private static RunSummary? Measured(IReadOnlyDictionary<string, RunSummary> runs, string name) =>
        runs.TryGetValue(name, out var run) && run.Succeeded > 0 ? run : null;

    private static string NotMeasured(IReadOnlyDictionary<string, RunSummary> runs, string name) =>
        runs.TryGetValue(name, out var run)
            ? $"not measured: no request succeeded ({Statuses(run.StatusCounts)})"
            : "not measured: run skipped (see run settings)";

    private static string Ratio(IReadOnlyDictionary<string, RunSummary> runs, string numerator, string denominator, string label) =>
        Measured(runs, numerator) is { } top && Measured(runs, denominator) is { OutputTokensPerSecond: > 0 } bottom
            ? string.Create(CultureInfo.InvariantCulture, $"; {top.OutputTokensPerSecond / bottom.OutputTokensPerSecond:0.00}× {label}")
            : "";

    private static string Triple(PercentileSummary? values) =>
        values is null ? "–" : string.Create(CultureInfo.InvariantCulture, $"{values.P50:0.0}/{values.P90:0.0}/{values.P99:0.0}");

    private static string P50(PercentileSummary? values) => values is null ? "–" : values.P50.ToString("0.0", CultureInfo.InvariantCulture);

    private static string Statuses(IReadOnlyDictionary<string, int> counts) => string.Join(" ", counts.Select(pair => $"{pair.Key}={pair.Value}"));
}
