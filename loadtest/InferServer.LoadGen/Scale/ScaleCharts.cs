using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace InferServer.LoadGen.Scale;

/// <summary>The scaling report's SVG charts, drawn with OxyPlot's managed SVG exporter (no native graphics library).</summary>
public static class ScaleCharts
{
    private const int Width = 720;
    private const int Height = 420;

    /// <summary>One line: a label and (x, y) points.</summary>
    public sealed record Line(string Title, IReadOnlyList<(double X, double Y)> Points, LineStyle Style = LineStyle.Solid);

    /// <summary>A line chart over adapters in play (log scale).</summary>
    public static void AgainstAdapters(string path, string title, string yTitle, IReadOnlyList<Line> lines, bool zeroBased = true)
    {
        var model = Model(title);
        model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Bottom, Title = "adapters in play", MajorGridlineStyle = LineStyle.Dot });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = yTitle, Minimum = zeroBased ? 0 : double.NaN, MajorGridlineStyle = LineStyle.Dot });
        foreach (var line in lines.Where(line => line.Points.Count > 0))
        {
            var series = new LineSeries { Title = line.Title, MarkerType = MarkerType.Circle, MarkerSize = 3, LineStyle = line.Style };
            series.Points.AddRange(line.Points.Where(point => double.IsFinite(point.Y)).Select(point => new DataPoint(point.X, point.Y)));
            model.Series.Add(series);
        }
        Save(model, path);
    }

    /// <summary>Grouped bars: one group per category, one bar per series, with a reference line at <paramref name="reference"/>.</summary>
    public static void Bars(string path, string title, string valueTitle, IReadOnlyList<string> categories,
        IReadOnlyList<(string Title, IReadOnlyList<double> Values)> series, double reference)
    {
        var model = Model(title);
        model.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, ItemsSource = categories, Title = "mix" });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = valueTitle, Minimum = 0, MajorGridlineStyle = LineStyle.Dot });
        foreach (var (name, values) in series)
        {
            var bars = new BarSeries { Title = name, LabelFormatString = "{0:0.00}", LabelPlacement = LabelPlacement.Inside };
            bars.Items.AddRange(values.Select(value => new BarItem(double.IsFinite(value) ? value : 0)));
            model.Series.Add(bars);
        }
        model.Annotations.Add(new OxyPlot.Annotations.LineAnnotation
        {
            Type = OxyPlot.Annotations.LineAnnotationType.Vertical,
            X = reference,
            Color = OxyColors.Gray,
            LineStyle = LineStyle.Dash,
            Text = reference.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture),
        });
        Save(model, path);
    }

    private static PlotModel Model(string title)
    {
        var model = new PlotModel { Title = title, TitleFontSize = 14, Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.RightTop, LegendPlacement = LegendPlacement.Outside });
        return model;
    }

    private static void Save(PlotModel model, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var stream = File.Create(path);
        new SvgExporter { Width = Width, Height = Height }.Export(model, stream);
    }
}
