using System.Globalization;
using System.Text;

namespace InferServer.LoadGen.Scale;

/// <summary>The scaling report's markdown and charts.</summary>
public static class ScaleReport
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Writes the markdown; charts are linked under <paramref name="chartLink"/>/.</summary>
    public static void Write(StringBuilder text, ScaleResults scale, ScaleResults? mixed, MergeResults? merge, string chartLink)
    {
        var counts = Counts(scale);
        text.AppendLine("# Scaling: throughput and latency as adapters multiply").AppendLine();
        text.AppendLine("Written by `inferserver-loadgen scale-report` from the JSON of `loadtest/run-scale.sh` (and of the merge benchmark); the numbers")
            .AppendLine("are what that run measured on the machine it ran on. Each cell ran once per round, the cell order rotating from round to")
            .AppendLine("round; a ratio is the median of the ratios taken within rounds, and its min-max is shown beside it.").AppendLine();
        text.AppendLine("## Headlines").AppendLine();
        if (Headline(scale, counts) is { } headline) text.AppendLine("```").AppendLine(headline).AppendLine("```").AppendLine();
        if (merge is not null && MergeHeadline(merge) is { } mergeLine) text.AppendLine("```").AppendLine(mergeLine).AppendLine("```").AppendLine();
        ColdHeadline(text, scale);
        text.AppendLine("## Settings").AppendLine();
        foreach (var (key, value) in scale.Settings) text.AppendLine($"- `{key}`: {value}");
        text.AppendLine($"- open-loop arrival rate: {scale.OpenRatePerSecond.ToString("0.00", Invariant)}/s (0.85 of the closed-loop request rate with the fewest adapters)");
        text.AppendLine($"- load average at start / end: {scale.LoadAverageStart} / {scale.LoadAverageEnd}").AppendLine();
        Table(text, "Closed loop", scale, "closed", counts);
        Table(text, "Open loop (Poisson arrivals near saturation, Zipf)", scale, "open", counts);
        if (mixed is not null) Table(text, "Mixed ranks 8, 16, 32, 64 (cycled; device slot pools sized for rank 64), closed loop", mixed, "closed", Counts(mixed));
        if (merge is not null) MergeTable(text, merge);
        text.AppendLine("## Charts").AppendLine();
        foreach (var (file, caption) in ChartFiles(merge is not null))
            text.AppendLine($"![{caption}]({chartLink}/{file})").AppendLine();
    }

    /// <summary>Draws the charts into <paramref name="directory"/>.</summary>
    public static void Charts(string directory, ScaleResults scale, ScaleResults? mixed, MergeResults? merge)
    {
        var lines = new List<ScaleCharts.Line>();
        foreach (var (results, prefix, label) in new[] { (scale, "closed/uniform", "closed, uniform"), (scale, "closed/zipf", "closed, Zipf"), (scale, "open/zipf", "open, Zipf") })
            lines.Add(new ScaleCharts.Line(label, Series(results, prefix, summary => summary.TokensPerSecond)));
        if (mixed is not null)
            lines.Add(new ScaleCharts.Line("closed, Zipf, mixed ranks", Series(mixed, "closed/zipf", summary => summary.TokensPerSecond), OxyPlot.LineStyle.Dash));
        ScaleCharts.AgainstAdapters(Path.Combine(directory, "throughput-vs-adapters.svg"), "Output tokens/s vs adapters in play", "tokens/s", lines);
        foreach (var (file, title, pick) in new (string, string, Func<CellSummary, double[]>)[]
                 {
                     ("ttft-vs-adapters.svg", "Time to first token vs adapters (closed, Zipf)", summary => summary.TimeToFirstTokenMs),
                     ("tpot-vs-adapters.svg", "Time per output token vs adapters (closed, Zipf)", summary => summary.TimePerOutputTokenMs),
                 })
        {
            var percentiles = new[] { "p50", "p90", "p99" }.Select((name, i) =>
                new ScaleCharts.Line(name, Series(scale, "closed/zipf", summary => pick(summary)[i]))).ToList();
            ScaleCharts.AgainstAdapters(Path.Combine(directory, file), title, "ms", percentiles);
        }
        if (merge is null) return;
        var mixes = merge.Cells.Select(cell => cell.Mix).Distinct().ToList();
        var series = merge.Cells.Select(cell => cell.Concurrency).Distinct().Order()
            .Select(concurrency => ($"{concurrency} concurrent", (IReadOnlyList<double>)mixes.Select(mix =>
                CellSummary.Median(merge.Cells.Where(cell => cell.Mix == mix && cell.Concurrency == concurrency).Select(cell => cell.Ratio))).ToList()))
            .ToList();
        ScaleCharts.Bars(Path.Combine(directory, "merge-on-off.svg"), "Merge cache on / off throughput by mix", "on/off tokens/s", mixes, series, 1.0);
    }

    private static IEnumerable<(string File, string Caption)> ChartFiles(bool merge)
    {
        yield return ("throughput-vs-adapters.svg", "throughput vs adapters");
        yield return ("ttft-vs-adapters.svg", "TTFT percentiles vs adapters");
        yield return ("tpot-vs-adapters.svg", "TPOT percentiles vs adapters");
        if (merge) yield return ("merge-on-off.svg", "merge on/off by mix");
    }

    /// <summary>The scale-ratio line: closed loop, Zipf, 1000 (or the largest count) over the fewest adapters.</summary>
    public static string? Headline(ScaleResults scale, IReadOnlyList<int> counts)
    {
        if (counts.Count < 2) return null;
        var top = counts.Contains(1000) ? 1000 : counts[^1];
        var ratios = PairedRatios(scale, $"closed/zipf/{top}", $"closed/zipf/{counts[0]}");
        if (ratios.Count == 0) return null;
        var concurrency = scale.Settings.GetValueOrDefault("concurrency", "?");
        var cpu = PairedRatios(scale, $"closed/zipf/{top}", $"closed/zipf/{counts[0]}", m => m.TokensPerCpuSecond);
        var perCpu = cpu.Count == 0 ? "" : $"; per server CPU-second {Format(CellSummary.Median(cpu))}, per-round {Format(cpu.Min())}-{Format(cpu.Max())}";
        return $"scale-ratio adapters={top}/{counts[0]}={Format(CellSummary.Median(ratios))} (Zipf {scale.Settings.GetValueOrDefault("zipf_alpha")}, "
               + $"{concurrency} concurrent, closed loop; {ratios.Count} rounds, per-round {Format(ratios.Min())}-{Format(ratios.Max())}{perCpu})";
    }

    /// <summary>The merge-ratio line: the smallest median on/off ratio over mixes and concurrencies, and the single-adapter one.</summary>
    public static string? MergeHeadline(MergeResults merge)
    {
        var cells = merge.Cells.GroupBy(cell => (cell.Mix, cell.Concurrency))
            .Select(group => (group.Key.Mix, group.Key.Concurrency, Ratio: CellSummary.Median(group.Select(cell => cell.Ratio)))).ToList();
        if (cells.Count == 0) return null;
        var worst = cells.MinBy(cell => cell.Ratio);
        var single = cells.Where(cell => cell.Mix == "One").Select(cell => cell.Ratio).DefaultIfEmpty(double.NaN).Min();
        var cpu = merge.Cells.GroupBy(cell => (cell.Mix, cell.Concurrency))
            .Select(group => (group.Key.Mix, group.Key.Concurrency, Ratio: CellSummary.Median(group.Select(cell => cell.CpuRatio)))).Where(cell => double.IsFinite(cell.Ratio)).ToList();
        var perCpu = "";
        if (cpu.Count > 0)
        {
            var cpuWorst = cpu.MinBy(cell => cell.Ratio);
            var cpuSingle = cpu.Where(cell => cell.Mix == "One").Select(cell => cell.Ratio).DefaultIfEmpty(double.NaN).Min();
            perCpu = $"; per CPU-second min={Format(cpuWorst.Ratio)} ({cpuWorst.Mix} x{cpuWorst.Concurrency}) one-adapter min={Format(cpuSingle)}";
        }
        return $"merge-ratio on/off min={Format(worst.Ratio)} ({worst.Mix} x{worst.Concurrency}) one-adapter min={Format(single)} "
               + $"(model {merge.Model}, {merge.Cells.Select(cell => cell.Round).Distinct().Count()} rounds{perCpu})";
    }

    private static void ColdHeadline(StringBuilder text, ScaleResults scale)
    {
        var cold = scale.Measurements.Where(m => m.Cell.StartsWith("coldstream/", StringComparison.Ordinal)).ToDictionary(m => m.Round);
        var warm = scale.Measurements.Where(m => m.Cell.StartsWith("warmstream/", StringComparison.Ordinal)).ToDictionary(m => m.Round);
        var rounds = cold.Keys.Intersect(warm.Keys).Order().ToList();
        if (rounds.Count == 0) return;
        var ttft = rounds.Select(r => (cold[r].Side?.ServerTimeToFirstTokenMs?.P50 ?? double.NaN) - (warm[r].Side?.ServerTimeToFirstTokenMs?.P50 ?? double.NaN)).ToList();
        var throughput = rounds.Select(r => cold[r].Main.OutputTokensPerSecond / warm[r].Main.OutputTokensPerSecond).ToList();
        var loads = rounds.Select(r => cold[r].AdapterLoadsPerSecond).ToList();
        text.AppendLine("```")
            .AppendLine($"cold-minus-warm TTFT p50={Format(CellSummary.Median(ttft), "0")} ms (server-side; per-round {Format(ttft.Min(), "0")}-{Format(ttft.Max(), "0")} ms)")
            .AppendLine($"running-traffic throughput while adapters load, cold/warm side stream={Format(CellSummary.Median(throughput))} "
                        + $"(per-round {Format(throughput.Min())}-{Format(throughput.Max())}; measured loads {Format(CellSummary.Median(loads), "0.0")}/s; {rounds.Count} rounds)")
            .AppendLine("```").AppendLine();
        text.AppendLine($"The cold cell serves closed-loop Zipf traffic over {scale.Settings.GetValueOrDefault("adapter_counts", "?").Split(',')[0]} warm adapters while a side stream "
                        + $"arrives at {scale.Settings.GetValueOrDefault("cold_rate")}/s naming adapters read from disk for the first time; the warm cell is the same with the side "
                        + "stream naming adapters already in memory. Cold-minus-warm TTFT compares the side streams' server TTFT p50; the throughput ratio is the main traffic's.")
            .AppendLine();
    }

    private static void Table(StringBuilder text, string title, ScaleResults results, string kind, IReadOnlyList<int> counts)
    {
        var summaries = Summaries(results).Where(summary => summary.Cell.StartsWith(kind + "/", StringComparison.Ordinal)).ToList();
        if (summaries.Count == 0) return;
        text.AppendLine($"## {title}").AppendLine();
        text.AppendLine("| mix | adapters | rounds × requests | tok/s median (min-max) | req/s | vs fewest, paired (min-max) | tok per server CPU-s, vs fewest | TTFT p50/p90/p99 ms | TPOT p50/p90/p99 ms | loads/s | slot evictions/s | host MiB | device MiB | load avg |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var summary in summaries.OrderBy(summary => summary.Cell.Split('/')[1]).ThenBy(summary => int.Parse(summary.Cell.Split('/')[2], Invariant)))
        {
            var parts = summary.Cell.Split('/');
            var ratios = PairedRatios(results, summary.Cell, $"{parts[0]}/{parts[1]}/{counts[0]}");
            var ratio = ratios.Count == 0 ? "–" : $"{Format(CellSummary.Median(ratios))} ({Format(ratios.Min())}-{Format(ratios.Max())})";
            var cpuRatios = PairedRatios(results, summary.Cell, $"{parts[0]}/{parts[1]}/{counts[0]}", m => m.TokensPerCpuSecond);
            var perCpu = $"{Format(CellSummary.Median(results.Measurements.Where(m => m.Cell == summary.Cell).Select(m => m.TokensPerCpuSecond)), "0.0")}, {CpuRange(cpuRatios)}";
            text.AppendLine($"| {parts[1]} | {parts[2]} | {summary.Rounds} × {summary.RequestsPerRound} | {Format(summary.TokensPerSecond, "0.0")} ({Format(summary.TokensPerSecondMin, "0.0")}-{Format(summary.TokensPerSecondMax, "0.0")}) | "
                            + $"{Format(summary.RequestsPerSecond)} | {ratio} | {perCpu} | {Triple(summary.TimeToFirstTokenMs)} | {Triple(summary.TimePerOutputTokenMs)} | "
                            + $"{Format(summary.AdapterLoadsPerSecond, "0.0")} | {Format(summary.SlotEvictionsPerSecond, "0.0")} | {Format(summary.HostBytes / 1048576, "0.0")} | "
                            + $"{Format(summary.DeviceBytes / 1048576, "0.0")} | {Format(summary.LoadAverageMin, "0.0")}-{Format(summary.LoadAverageMax, "0.0")} |");
        }
        text.AppendLine();
    }

    private static void MergeTable(StringBuilder text, MergeResults merge)
    {
        text.AppendLine($"## Merge cache on / off (model {merge.Model}, {merge.PromptTokens}-token prompts, {merge.NewTokens} new tokens; load average {merge.LoadAverageStart} → {merge.LoadAverageEnd})").AppendLine();
        text.AppendLine("| mix | concurrent | rounds | on tok/s | off tok/s | on/off median (min-max) | on/off per CPU-s (min-max) | requests served merged |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var group in merge.Cells.GroupBy(cell => (cell.Concurrency, cell.Mix)).OrderBy(group => group.Key.Concurrency))
        {
            var ratios = group.Select(cell => cell.Ratio).ToList();
            text.AppendLine($"| {group.Key.Mix} | {group.Key.Concurrency} | {ratios.Count} | {Format(CellSummary.Median(group.Select(cell => cell.OnTokensPerSecond)), "0.0")} | "
                            + $"{Format(CellSummary.Median(group.Select(cell => cell.OffTokensPerSecond)), "0.0")} | {Format(CellSummary.Median(ratios))} ({Format(ratios.Min())}-{Format(ratios.Max())}) | "
                            + $"{CpuRange(group.Select(cell => cell.CpuRatio).ToList())} | "
                            + $"{Format(100 * CellSummary.Median(group.Select(cell => cell.MergedShare)), "0")} % |");
        }
        text.AppendLine();
    }

    private static List<double> PairedRatios(ScaleResults results, string top, string bottom, Func<CellMeasurement, double>? value = null)
    {
        value ??= m => m.Main.OutputTokensPerSecond;
        var bottoms = results.Measurements.Where(m => m.Cell == bottom).ToDictionary(m => m.Round);
        return results.Measurements.Where(m => m.Cell == top && bottoms.ContainsKey(m.Round))
            .Select(m => value(m) / value(bottoms[m.Round])).Where(double.IsFinite).ToList();
    }

    private static List<CellSummary> Summaries(ScaleResults results) =>
        results.Measurements.GroupBy(m => m.Cell).Select(group => CellSummary.Of(group.Key, group.ToList())).ToList();

    private static List<(double X, double Y)> Series(ScaleResults results, string prefix, Func<CellSummary, double> value) =>
        Summaries(results).Where(summary => summary.Cell.StartsWith(prefix + "/", StringComparison.Ordinal))
            .Select(summary => ((double)int.Parse(summary.Cell.Split('/')[2], Invariant), value(summary)))
            .OrderBy(point => point.Item1).ToList();

    private static List<int> Counts(ScaleResults results) =>
        results.Measurements.Where(m => m.Cell.StartsWith("closed/", StringComparison.Ordinal))
            .Select(m => int.Parse(m.Cell.Split('/')[2], Invariant)).Distinct().Order().ToList();

    private static string CpuRange(List<double> ratios)
    {
        var finite = ratios.Where(double.IsFinite).ToList();
        return finite.Count == 0 ? "–" : $"{Format(CellSummary.Median(finite))} ({Format(finite.Min())}-{Format(finite.Max())})";
    }

    private static string Triple(double[] values) => string.Join('/', values.Select(value => Format(value, "0")));

    private static string Format(double value, string format = "0.00") => double.IsFinite(value) ? value.ToString(format, Invariant) : "–";
}
