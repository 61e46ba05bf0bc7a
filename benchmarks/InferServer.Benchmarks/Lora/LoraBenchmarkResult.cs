using System.Globalization;
using InferServer.Kernels.Lora;

namespace InferServer.Benchmarks.Lora;

/// <summary>Medians of one configuration in milliseconds; overhead (median paired lora/base - 1) and floor as fractions.</summary>
internal sealed record LoraBenchmarkResult(
    int Rows, int Distinct, int Rank, long Dim, LoraKernelPath Path, double Floor, double Overhead,
    double BaseMs, double LoraMs, double GatheredMs, double GroupedMs, double StackedMs)
{
    public string MarkdownRow() => string.Create(
        CultureInfo.InvariantCulture,
        $"| {Rows} | {Distinct} | {Rank} | {Dim} | {BaseMs:F3} | {LoraMs:F3} | {Overhead * 100:F1} | {Floor * 100:F2} | "
        + $"{Overhead / Floor:F1} | {Path} | {GatheredMs:F3} | {GroupedMs:F3} | {StackedMs:F3} |");
}
