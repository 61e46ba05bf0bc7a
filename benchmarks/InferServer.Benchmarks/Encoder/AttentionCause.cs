using System.Diagnostics;
using System.Globalization;
using InferServer.Kernels.Attention;
using static TorchSharp.torch;

namespace InferServer.Benchmarks.Encoder;

/// <summary>
/// One of the causes, isolated: MiniLM's attention for 64 texts of ~25 tokens (12 heads of 32) as six layers' worth of
/// calls, one SDPA per sequence (<see cref="PagedAttention.Bidirectional"/>, the code before) against one padded call
/// per layer (<see cref="EncoderAttention"/>). Interleaved, CPU time and wall clock, median of per-round ratios.
/// </summary>
internal static class AttentionCause
{
    public static void Run(int repeats)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var lengths = Enumerable.Range(0, 64).Select(i => 22 + i % 7).ToArray(); // 22..28 tokens, as real texts vary
        var sequences = new List<(int Start, int Length)>();
        foreach (var length in lengths)
            sequences.Add((sequences.Count == 0 ? 0 : sequences[^1].Start + sequences[^1].Length, length));
        var rows = lengths.Sum();
        var (q, k, v) = (randn(rows, 12, 32), randn(rows, 12, 32), randn(rows, 12, 32));
        double Time(Action step, out double cpu)
        {
            var process = Process.GetCurrentProcess();
            var before = process.TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            for (var layer = 0; layer < 6; layer++)
                step();
            var wall = watch.Elapsed.TotalMilliseconds;
            process.Refresh();
            cpu = (process.TotalProcessorTime - before).TotalMilliseconds;
            return wall;
        }
        void PerSequence() { using var s = NewDisposeScope(); PagedAttention.Bidirectional(q, k, v, sequences); }
        void OneCall() { using var s = NewDisposeScope(); EncoderAttention.Bidirectional(q, k, v, EncoderAttentionLayout.Create(sequences, CPU)); }
        PerSequence();
        OneCall();
        var (wallRatios, cpuRatios, wallBefore, wallAfter) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (var round = 0; round < repeats * 3; round++)
        {
            var before = Time(PerSequence, out var cpuBefore);
            var after = Time(OneCall, out var cpuAfter);
            wallBefore.Add(before);
            wallAfter.Add(after);
            wallRatios.Add(before / after);
            cpuRatios.Add(cpuBefore / cpuAfter);
        }
        var (perSequence, oneCall) = (Statistics.Median(wallBefore), Statistics.Median(wallAfter));
        var (wallRatio, cpuRatio) = (Statistics.Median(wallRatios), Statistics.Median(cpuRatios));
        Console.WriteLine(FormattableString.Invariant(
            $"\nattention, 64 texts of 22-28 tokens, 6 layers: per-sequence SDPA {perSequence:F1} ms, one padded call {oneCall:F1} ms (wall medians); per-sequence/one-call = {wallRatio:F2} wall, {cpuRatio:F2} CPU (medians of {wallRatios.Count} paired rounds)"));
    }
}
