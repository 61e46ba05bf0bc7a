using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace InferServer.Benchmarks.Peer;

/// <summary>The peer benchmark's results: the markdown table, the ratio line and the chart.</summary>
/// <param name="Results">Per (engine, scenario, concurrency): one (tokens/s, median time per output token in ms) per round, rounds in order.</param>
/// <param name="Concurrency">The concurrencies measured.</param>
public sealed record PeerTable(IReadOnlyDictionary<(string Engine, PeerBenchmark.Scenario Scenario, int Concurrency), IReadOnlyList<(double TokensPerSecond, double TpotMs)>> Results,
    IReadOnlyList<int> Concurrency)
{
    private const string Server = "InferServer";
    private const string Llama = "llama.cpp";

    /// <summary>Prints the table and <c>llamacpp-ratio tpot-c1=X base-c64=Y distinct-c64/llamacpp-base=Z</c>.</summary>
    public void Print()
    {
        Console.WriteLine();
        Console.WriteLine("| concurrent | InferServer base | llama.cpp base | ratio | InferServer one adapter | llama.cpp one adapter | ratio "
                          + "| InferServer distinct | llama.cpp distinct (one adapter at a time) | ratio | InferServer distinct / llama.cpp base |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in Concurrency)
        {
            string Cells(PeerBenchmark.Scenario scenario) =>
                $"{Tps(Server, scenario, c):F1} | {Tps(Llama, scenario, c):F1} | {PeerBenchmark.Format(Ratio(scenario, scenario, c))}";
            Console.WriteLine($"| {c} | {Cells(PeerBenchmark.Scenario.Base)} | {Cells(PeerBenchmark.Scenario.OneAdapter)} | "
                              + $"{Cells(PeerBenchmark.Scenario.Distinct)} | {PeerBenchmark.Format(Ratio(PeerBenchmark.Scenario.Distinct, PeerBenchmark.Scenario.Base, c))} |");
        }
        var one = Concurrency.Min();
        var top = Concurrency.Max();
        Console.WriteLine();
        Console.WriteLine($"time per output token, {one} concurrent, base: InferServer {Tpot(Server, one):F1} ms, llama.cpp {Tpot(Llama, one):F1} ms");
        Console.WriteLine();
        Console.WriteLine($"llamacpp-ratio tpot-c{one}={PeerBenchmark.Format(TpotRatio(one))} base-c{top}={PeerBenchmark.Format(Ratio(PeerBenchmark.Scenario.Base, PeerBenchmark.Scenario.Base, top))} "
                          + $"distinct-c{top}/llamacpp-base={PeerBenchmark.Format(Ratio(PeerBenchmark.Scenario.Distinct, PeerBenchmark.Scenario.Base, top))}");
        Console.WriteLine("(generated tokens/s, prefill included, median of the rounds; ratios are InferServer over llama.cpp, medians of the "
                          + "ratios within each round; tpot ratio = llama.cpp's time per output token over InferServer's)");
    }

    /// <summary>Tokens/s by concurrency, both engines, base and distinct adapters, as an SVG at <paramref name="path"/>.</summary>
    public void Chart(string path)
    {
        var model = new PlotModel { Title = "InferServer vs llama.cpp, large model (F32, 2 cores)", TitleFontSize = 14, Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.LeftTop, LegendPlacement = LegendPlacement.Inside });
        model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Bottom, Title = "concurrent requests", Base = 2, MajorGridlineStyle = LineStyle.Dot });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "generated tokens/s", Minimum = 0, MajorGridlineStyle = LineStyle.Dot });
        foreach (var (engine, scenario, title, style) in new[]
        {
            (Server, PeerBenchmark.Scenario.Base, "InferServer, base", LineStyle.Solid),
            (Server, PeerBenchmark.Scenario.Distinct, "InferServer, distinct adapters", LineStyle.Dash),
            (Llama, PeerBenchmark.Scenario.Base, "llama.cpp, base", LineStyle.Solid),
            (Llama, PeerBenchmark.Scenario.Distinct, "llama.cpp, distinct adapters (one at a time)", LineStyle.Dash),
        })
        {
            var series = new LineSeries { Title = title, MarkerType = MarkerType.Circle, MarkerSize = 3, LineStyle = style };
            series.Points.AddRange(Concurrency.Select(c => new DataPoint(c, Tps(engine, scenario, c))).Where(p => double.IsFinite(p.Y)));
            model.Series.Add(series);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var stream = File.Create(path);
        new SvgExporter { Width = 720, Height = 420 }.Export(model, stream);
        Console.WriteLine($"chart: {path}");
    }

    private IReadOnlyList<(double TokensPerSecond, double TpotMs)> Of(string engine, PeerBenchmark.Scenario scenario, int c) =>
        Results.TryGetValue((engine, scenario, c), out var samples) ? samples : [];

    private double Tps(string engine, PeerBenchmark.Scenario scenario, int c) =>
        Of(engine, scenario, c) is { Count: > 0 } samples ? Statistics.Median(samples.Select(s => s.TokensPerSecond)) : double.NaN;

    private double Tpot(string engine, int c) =>
        Of(engine, PeerBenchmark.Scenario.Base, c) is { Count: > 0 } samples ? Statistics.Median(samples.Select(s => s.TpotMs)) : double.NaN;

    // InferServer's scenario over llama.cpp's, paired round by round.
    private double Ratio(PeerBenchmark.Scenario server, PeerBenchmark.Scenario llama, int c)
    {
        var tops = Of(Server, server, c);
        var bottoms = Of(Llama, llama, c);
        return tops.Count == 0 || bottoms.Count == 0 ? double.NaN : Statistics.Median(tops.Zip(bottoms, (t, b) => t.TokensPerSecond / b.TokensPerSecond));
    }

    private double TpotRatio(int c)
    {
        var server = Of(Server, PeerBenchmark.Scenario.Base, c);
        var llama = Of(Llama, PeerBenchmark.Scenario.Base, c);
        return server.Count == 0 || llama.Count == 0 ? double.NaN : Statistics.Median(llama.Zip(server, (l, s) => l.TpotMs / s.TpotMs));
    }
}
