using System.Globalization;
using InferServer.LoadGen.Scenarios;
using InferServer.LoadGen.Targets;

namespace InferServer.LoadGen.Scale;

/// <summary>The scale command's settings (loadtest/README.md, "Scaling").</summary>
public sealed record ScaleOptions(
    Uri Target,
    Uri Metrics,
    string? ApiKey,
    IReadOnlyList<int> AdapterCounts,
    IReadOnlyList<Popularity> Mixes,
    IReadOnlyList<int> OpenCounts,
    int Concurrency,
    int Requests,
    int Rounds,
    int MaxNewTokens,
    int PromptWords,
    string AdapterPrefix,
    double ZipfAlpha,
    string ColdPrefix,
    double ColdRate,
    double StreamSeconds,
    int Seed,
    string JsonPath)
{
    public static ScaleOptions Parse(CommandLine commandLine)
    {
        static int[] Counts(string text) => text.Length == 0 ? [] : text.Split(',').Select(value => int.Parse(value, CultureInfo.InvariantCulture)).ToArray();
        var options = new ScaleOptions(
            new Uri(commandLine.String("target", "http://127.0.0.1:50151")),
            new Uri(commandLine.String("metrics", "http://127.0.0.1:50152/metrics")),
            commandLine.OptionalString("api-key"),
            Counts(commandLine.String("adapter-counts", "5,50,500,1000,2000")),
            commandLine.String("mixes", "uniform,zipf").Split(',').Select(mix => Enum.Parse<Popularity>(mix, ignoreCase: true)).ToArray(),
            Counts(commandLine.String("open-counts", "5,1000")),
            commandLine.Int("concurrency", 64, 1, 4096),
            commandLine.Int("requests", 256, 1, 100_000),
            commandLine.Int("rounds", 3, 1, 100),
            commandLine.Int("max-new-tokens", 16, 1, 4096),
            commandLine.Int("prompt-words", 16, 1, 4096),
            commandLine.String("adapter-prefix", "tenant-"),
            commandLine.Double("zipf-alpha", 1.2, 0, 10),
            commandLine.String("cold-prefix", ""),
            commandLine.Double("cold-rate", 10, 0.1, 1000),
            commandLine.Double("stream-seconds", 20, 1, 600),
            commandLine.Int("seed", 1, 0, int.MaxValue),
            commandLine.String("json", "artifacts/loadtest/scale.json"));
        var allowRemote = commandLine.Flag("allow-remote");
        if (commandLine.Unused() is { Count: > 0 } unused) throw new ArgumentException($"unknown options {string.Join(' ', unused)}");
        foreach (var uri in new[] { options.Target, options.Metrics })
            if (LoopbackGuard.Check(uri, allowRemote) is { } refusal) throw new ArgumentException(refusal);
        if (options.AdapterCounts.Count == 0) throw new ArgumentException("--adapter-counts needs at least one count");
        return options;
    }

    /// <summary>The cells of one round: closed loop for every count and mix, open loop (Zipf) for the open counts, and the cold/warm stream pair.</summary>
    public IReadOnlyList<ScaleCell> Cells()
    {
        var cells = new List<ScaleCell>();
        foreach (var mix in Mixes)
            cells.AddRange(AdapterCounts.Select(count => new ScaleCell(CellKind.Closed, mix, count)));
        cells.AddRange(OpenCounts.Select(count => new ScaleCell(CellKind.Open, Popularity.Zipf, count)));
        if (ColdPrefix.Length > 0)
        {
            var warm = AdapterCounts.Min();
            cells.Add(new ScaleCell(CellKind.ColdStream, Popularity.Zipf, warm));
            cells.Add(new ScaleCell(CellKind.WarmStream, Popularity.Zipf, warm));
        }
        return cells;
    }

    /// <summary>The settings as the report prints them.</summary>
    public IReadOnlyDictionary<string, string> Describe() => new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
        ["adapter_counts"] = string.Join(',', AdapterCounts),
        ["mixes"] = string.Join(',', Mixes).ToLowerInvariant(),
        ["open_counts"] = string.Join(',', OpenCounts),
        ["concurrency"] = Concurrency.ToString(CultureInfo.InvariantCulture),
        ["requests_per_cell"] = Requests.ToString(CultureInfo.InvariantCulture),
        ["rounds"] = Rounds.ToString(CultureInfo.InvariantCulture),
        ["max_new_tokens"] = MaxNewTokens.ToString(CultureInfo.InvariantCulture),
        ["prompt_words"] = PromptWords.ToString(CultureInfo.InvariantCulture),
        ["adapter_prefix"] = AdapterPrefix,
        ["zipf_alpha"] = ZipfAlpha.ToString(CultureInfo.InvariantCulture),
        ["cold_prefix"] = ColdPrefix,
        ["cold_rate"] = ColdRate.ToString(CultureInfo.InvariantCulture),
        ["stream_seconds"] = StreamSeconds.ToString(CultureInfo.InvariantCulture),
        ["seed"] = Seed.ToString(CultureInfo.InvariantCulture),
    };
}
