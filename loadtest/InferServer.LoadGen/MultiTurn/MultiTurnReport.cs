using System.Globalization;
using System.Text;
using InferServer.LoadGen.Results;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace InferServer.LoadGen.MultiTurn;

/// <summary>
/// Pairs the caching-on and caching-off runs: TTFT p50/p99 by turn (all rounds pooled), output throughput, the
/// headline line of issue 24, a markdown table and an SVG chart of TTFT by turn.
/// </summary>
public static class MultiTurnReport
{
    public const string On = "on";
    public const string Off = "off";

    /// <summary>TTFT percentiles of one turn number over every conversation and round of one label.</summary>
    public static PercentileSummary? TurnTtft(IEnumerable<MultiTurnResult> runs, int turn) =>
        PercentileSummary.Of(runs.SelectMany(run => run.Turns).Where(t => t.Turn == turn && t.Status == "OK" && t.TtftMs is not null)
            .Select(t => t.TtftMs!.Value));

    /// <summary>The issue's result line, from runs labelled <see cref="On"/> and <see cref="Off"/>.</summary>
    public static string Headline(IReadOnlyList<MultiTurnResult> runs)
    {
        var on = runs.Where(run => run.Label == On).ToArray();
        var off = runs.Where(run => run.Label == Off).ToArray();
        var lastTurn = runs.Max(run => run.Options.Turns);
        var ratio = TurnTtft(off, lastTurn)?.P50 / TurnTtft(on, lastTurn)?.P50;
        // Throughput: the median over rounds of each round's on/off ratio (both halves of a round ran back to back).
        var throughputRatios = on.Join(off, run => run.Round, run => run.Round, (a, b) => a.OutputTokensPerSecond / b.OutputTokensPerSecond).ToArray();
        var throughput = throughputRatios.Length == 0 ? (double?)null : Median(throughputRatios);
        return string.Create(CultureInfo.InvariantCulture,
            $"prefix-cache ttft-ratio off/on turn{lastTurn}={Format(ratio)} throughput on/off={Format(throughput)}");
    }

    /// <summary>Writes <paramref name="outPath"/>.md and <paramref name="outPath"/>/ttft-by-turn.svg; returns the headline.</summary>
    public static string Write(IReadOnlyList<MultiTurnResult> runs, string outPath)
    {
        var on = runs.Where(run => run.Label == On).ToArray();
        var off = runs.Where(run => run.Label == Off).ToArray();
        if (on.Length == 0 || off.Length == 0)
        {
            throw new ArgumentException($"need runs labelled '{On}' and '{Off}', got {string.Join(", ", runs.Select(run => run.Label).Distinct())}");
        }

        var headline = Headline(runs);
        var turns = runs.Max(run => run.Options.Turns);
        var options = on[0].Options;
        var chartDirectory = outPath;
        Directory.CreateDirectory(chartDirectory);
        Chart(Path.Combine(chartDirectory, "ttft-by-turn.svg"), turns, on, off);

        var text = new StringBuilder();
        var invariant = CultureInfo.InvariantCulture;
        text.AppendLine("# Prefix caching on multi-turn chat").AppendLine();
        text.AppendLine(invariant, $"`{headline}`").AppendLine();
        text.AppendLine(invariant, $"{options.Conversations} concurrent conversations over {options.Adapters} adapters (Zipf {options.ZipfAlpha}), "
            + $"a {options.SystemTokens}-token system prompt per adapter, {options.Turns} turns of {options.UserTokens} user tokens and "
            + $"{options.MaxNewTokens} generated tokens; {on.Length} paired round(s) of caching on and off (`loadtest/run-prefix.sh`).");
        var loads = string.Join(", ", runs.OrderBy(run => run.Round).ThenBy(run => run.Label).Select(run =>
            string.Create(invariant, $"{run.Label} r{run.Round} {run.LoadAverageStart:0.0}→{run.LoadAverageEnd:0.0}")));
        text.AppendLine("Load average (1 min) at the start and end of each run: " + loads + ".").AppendLine();
        text.AppendLine("![TTFT by turn](" + Path.GetFileName(outPath) + "/ttft-by-turn.svg)").AppendLine();
        text.AppendLine("| turn | TTFT p50 off (ms) | TTFT p50 on (ms) | TTFT p99 off (ms) | TTFT p99 on (ms) | cached share on |");
        text.AppendLine("|---:|---:|---:|---:|---:|---:|");
        for (var turn = 1; turn <= turns; turn++)
        {
            var offTurn = TurnTtft(off, turn);
            var onTurn = TurnTtft(on, turn);
            var onTurns = on.SelectMany(run => run.Turns).Where(t => t.Turn == turn && t.Status == "OK").ToArray();
            var share = onTurns.Sum(t => t.PromptTokens) is var prompt and > 0 ? (double)onTurns.Sum(t => t.CachedTokens) / prompt : double.NaN;
            text.AppendLine(invariant, $"| {turn} | {offTurn?.P50:0} | {onTurn?.P50:0} | {offTurn?.P99:0} | {onTurn?.P99:0} | {share:P0} |");
        }

        text.AppendLine();
        text.AppendLine("| round | output tok/s off | output tok/s on | failed turns off / on |");
        text.AppendLine("|---:|---:|---:|---:|");
        foreach (var round in on.Select(run => run.Round).Order())
        {
            var a = on.Single(run => run.Round == round);
            var b = off.SingleOrDefault(run => run.Round == round);
            text.AppendLine(invariant, $"| {round} | {b?.OutputTokensPerSecond:0.0} | {a.OutputTokensPerSecond:0.0} | "
                + $"{b?.Turns.Count(t => t.Status != "OK")} / {a.Turns.Count(t => t.Status != "OK")} |");
        }

        File.WriteAllText(outPath + ".md", text.ToString());
        return headline;
    }

    private static void Chart(string path, int turns, IReadOnlyList<MultiTurnResult> on, IReadOnlyList<MultiTurnResult> off)
    {
        var model = new PlotModel { Title = "Time to first token by turn", TitleFontSize = 14, Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.RightTop, LegendPlacement = LegendPlacement.Outside });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "turn", Minimum = 0.5, Maximum = turns + 0.5, MajorStep = 1, MajorGridlineStyle = LineStyle.Dot });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "TTFT (ms)", Minimum = 0, MajorGridlineStyle = LineStyle.Dot });
        foreach (var (title, runs, percentile, style) in new[]
                 {
                     ("caching off, p50", off, 50, LineStyle.Solid), ("caching on, p50", on, 50, LineStyle.Solid),
                     ("caching off, p99", off, 99, LineStyle.Dash), ("caching on, p99", on, 99, LineStyle.Dash),
                 })
        {
            var series = new LineSeries { Title = title, MarkerType = MarkerType.Circle, MarkerSize = 3, LineStyle = style };
            for (var turn = 1; turn <= turns; turn++)
            {
                if (TurnTtft(runs, turn) is { } summary)
                {
                    series.Points.Add(new DataPoint(turn, percentile == 50 ? summary.P50 : summary.P99));
                }
            }
            model.Series.Add(series);
        }

        using var stream = File.Create(path);
        new SvgExporter { Width = 720, Height = 420 }.Export(model, stream);
    }

    private static double Median(double[] values)
    {
        Array.Sort(values);
        return Percentiles.OfSorted(values, 50);
    }

    private static string Format(double? value) => value is { } v && double.IsFinite(v) ? v.ToString("0.00", CultureInfo.InvariantCulture) : "not-measured";
}
