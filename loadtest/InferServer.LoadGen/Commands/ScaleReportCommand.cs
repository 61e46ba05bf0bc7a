using System.Globalization;
using System.Text;
using System.Text.Json;
using InferServer.LoadGen.Scale;

namespace InferServer.LoadGen.Commands;

/// <summary>
/// scale-report: the scaling benchmark's markdown and SVG charts from the JSON that scale (and the merge benchmark)
/// wrote. Ratios are medians of ratios taken within rounds; every table says how many rounds and the spread.
/// </summary>
public static class ScaleReportCommand
{
    public static int Execute(CommandLine commandLine)
    {
        var scalePath = commandLine.String("scale", "artifacts/loadtest/scale/scale-rank16.json");
        var mixedPath = commandLine.OptionalString("mixed");
        var mergePath = commandLine.OptionalString("merge");
        var outPath = commandLine.String("out", "docs/benchmarks/scale");
        if (commandLine.Unused() is { Count: > 0 } unused) throw new ArgumentException($"unknown options {string.Join(' ', unused)}");

        var scale = Read<ScaleResults>(scalePath);
        var mixed = mixedPath is null ? null : Read<ScaleResults>(mixedPath);
        var merge = mergePath is null ? null : Read<MergeResults>(mergePath);
        var chartDirectory = outPath;
        var chartLink = Path.GetFileName(outPath);
        var text = new StringBuilder();
        ScaleReport.Write(text, scale, mixed, merge, chartLink);
        ScaleReport.Charts(chartDirectory, scale, mixed, merge);
        File.WriteAllText(outPath + ".md", text.ToString());
        Console.WriteLine($"wrote {outPath}.md and its charts in {chartDirectory}/");
        return 0;
    }

    private static T Read<T>(string path) =>
        JsonSerializer.Deserialize<T>(File.ReadAllText(path), ScaleCommand.Json) ?? throw new ArgumentException($"{path} is empty");
}
