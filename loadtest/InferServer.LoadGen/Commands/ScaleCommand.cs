using System.Globalization;
using System.Text.Json;
using InferServer.LoadGen.Results;
using InferServer.LoadGen.Running;
using InferServer.LoadGen.Scale;
using InferServer.LoadGen.Scenarios;
using InferServer.LoadGen.Targets;

namespace InferServer.LoadGen.Commands;

/// <summary>
/// scale: throughput and latency as adapters multiply (S-LoRA's experiment, Sheng et al. 2024, §7), through a running
/// server. Every cell (adapters in play × popularity × loop) is measured once per round and the order of cells rotates
/// from round to round, so a ratio of two cells is taken within a round on the same machine state and the median of
/// those ratios is reported (the engine benchmark's method). Writes every measurement as JSON for scale-report.
/// </summary>
public static class ScaleCommand
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static async Task<int> ExecuteAsync(CommandLine commandLine)
    {
        var options = ScaleOptions.Parse(commandLine);
        var loadStart = LoadAverage();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var settings = new RequestSettings(RequestKind.Stream, options.PromptWords, options.MaxNewTokens, 1);
        await using var target = new GrpcGenerationTarget(GrpcGenerationTarget.CreateChannel(options.Target), settings, options.ApiKey);
        await using var warmTarget = new GrpcGenerationTarget(GrpcGenerationTarget.CreateChannel(options.Target), settings with { MaxNewTokens = 1 }, options.ApiKey);

        // Every adapter the cells name goes to host memory once, so cells measure serving, not the first read from disk
        // (except the cold-stream cells, whose adapters are never warmed).
        var warmPlan = AdapterSchedule.Build(Popularity.Distinct, options.AdapterCounts.Max(), options.AdapterCounts.Max(), options.AdapterPrefix, options.Seed);
        Console.Error.WriteLine($"warming {warmPlan.Count} adapters");
        await new LoadRunner(warmTarget, Closed(options, 600)).RunAsync(warmPlan, new RunClock(), CancellationToken.None);

        var openRate = 0.0;
        var cells = options.Cells();
        if (cells.Any(cell => cell.Kind == CellKind.Open))
        {
            // Near saturation: 0.85 of what the fewest adapters sustain closed-loop at the configured concurrency.
            var calibration = await MeasureAsync(new ScaleCell(CellKind.Closed, Popularity.Zipf, options.AdapterCounts.Min()), -1, 0, options, target, http, 0);
            openRate = 0.85 * calibration.Main.RequestsPerSecond;
            Console.Error.WriteLine($"open-loop rate {openRate:F2}/s (0.85 x {calibration.Main.RequestsPerSecond:F2} req/s closed)");
        }

        var measurements = new List<CellMeasurement>();
        for (var round = 0; round < options.Rounds; round++)
        {
            var shift = round * cells.Count / options.Rounds;
            foreach (var index in Enumerable.Range(0, cells.Count).Select(i => (i + shift) % cells.Count))
            {
                var measurement = await MeasureAsync(cells[index], round, index, options, target, http, openRate);
                measurements.Add(measurement);
                Console.Error.WriteLine($"round {round} {cells[index].Key}: {measurement.Main.OutputTokensPerSecond:F1} tok/s, "
                                        + $"{measurement.Main.RequestsPerSecond:F2} req/s, ok {measurement.Main.Succeeded}/{measurement.Main.Sent}, "
                                        + $"loads {measurement.AdapterLoadsPerSecond:F1}/s, slot evictions {measurement.SlotEvictionsPerSecond:F1}/s, load {measurement.LoadAverage:F1}");
            }
        }

        var results = new ScaleResults(options.Describe(), openRate, loadStart, LoadAverage(), measurements);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.JsonPath))!);
        await File.WriteAllTextAsync(options.JsonPath, JsonSerializer.Serialize(results, Json));
        Console.WriteLine($"wrote {measurements.Count} measurements to {options.JsonPath}");
        return 0;
    }

    private static async Task<CellMeasurement> MeasureAsync(ScaleCell cell, int round, int cellIndex, ScaleOptions options, IGenerationTarget target,
        HttpClient http, double openRate)
    {
        var seed = options.Seed + 1000 * (round + 1) + cellIndex;
        var before = await MetricsScrape.ReadAsync(http, options.Metrics, CancellationToken.None);
        var clock = new RunClock();
        RunSummary main;
        RunSummary? side = null;
        switch (cell.Kind)
        {
            case CellKind.Closed:
            case CellKind.Open:
                {
                    var open = cell.Kind == CellKind.Open;
                    var plan = AdapterSchedule.Build(cell.Popularity, options.Requests, cell.Adapters, options.AdapterPrefix, seed, options.ZipfAlpha);
                    var shape = open ? Closed(options, 600) with { Open = true, RatePerSecond = openRate, MaxInFlight = 4096 } : Closed(options, 600);
                    main = await RunAsync(cell.Key, plan, shape, target, options);
                    break;
                }
            default:
                {
                    // Main traffic over a few warm adapters for a fixed time; the side stream arrives at the cold rate, naming
                    // adapters read from disk for the first time (cold) or adapters already in memory (warm, the control).
                    var duration = options.StreamSeconds;
                    var plan = AdapterSchedule.Build(cell.Popularity, options.Concurrency * 200, cell.Adapters, options.AdapterPrefix, seed, options.ZipfAlpha);
                    var sideCount = (int)Math.Ceiling(options.ColdRate * duration);
                    var sidePlan = cell.Kind == CellKind.ColdStream
                        ? AdapterSchedule.Build(Popularity.Distinct, sideCount, sideCount, options.ColdPrefix, seed, offset: round * sideCount)
                        : AdapterSchedule.Build(Popularity.Uniform, sideCount, cell.Adapters, options.AdapterPrefix, seed + 7);
                    var mainRun = RunAsync(cell.Key, plan, Closed(options, duration), target, options);
                    var sideShape = Closed(options, duration) with { Open = true, RatePerSecond = options.ColdRate, MaxInFlight = 4096 };
                    var sideRun = RunAsync(cell.Key + "/side", sidePlan, sideShape, target, options);
                    main = await mainRun;
                    side = await sideRun;
                    break;
                }
        }
        var wall = clock.Now;
        var after = await MetricsScrape.ReadAsync(http, options.Metrics, CancellationToken.None);
        return new CellMeasurement(round, cell.Key, main, side, (after.AdapterLoads - before.AdapterLoads) / wall,
            (after.DeviceEvictions - before.DeviceEvictions) / wall, after.HostBytes, after.DeviceBytes,
            double.TryParse(LoadAverage().Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var load) ? load : double.NaN,
            after.CpuSeconds - before.CpuSeconds);
    }

    private static async Task<RunSummary> RunAsync(string name, RequestPlan plan, LoadShape shape, IGenerationTarget target, ScaleOptions options)
    {
        var runner = new LoadRunner(target, shape);
        var (outcomes, wall) = await runner.RunAsync(plan, new RunClock(), CancellationToken.None);
        return RunSummary.From(name, target.Description, name, shape.Describe(), new Dictionary<string, string>(), plan.Count, runner.Shed, outcomes, wall, null);
    }

    private static LoadShape Closed(ScaleOptions options, double seconds) =>
        new(false, options.Concurrency, 1, 4096, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(120), options.Seed);

    /// <summary>/proc/loadavg's first three fields, or "n/a" off Linux.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
