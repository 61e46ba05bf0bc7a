using InferServer.Benchmarks.Engine;

namespace InferServer.Benchmarks.Merge;

/// <summary>Command-line options of the merge benchmark: the engine benchmark's, plus requests per worker.</summary>
/// <param name="Engine">Model, concurrency, tokens, prompt, rounds (--repeats), threads, cache directory.</param>
/// <param name="Waves">Requests each closed-loop worker sends one after the other.</param>
/// <param name="JsonPath">Where every round's measurements are written as JSON (for inferserver-loadgen scale-report), or null.</param>
public sealed record MergeBenchmarkOptions(EngineBenchmarkOptions Engine, int Waves, string? JsonPath)
{
    /// <summary>Parses <c>merge [--waves N] [--json FILE] [engine options]</c>; the defaults are concurrency 8,64, 16 tokens, 8-token prompts, 3 rounds, 2 waves.</summary>
    public static MergeBenchmarkOptions Parse(ReadOnlySpan<string> span)
    {
        var args = new List<string> { "--concurrency", "8,64", "--tokens", "16", "--prompt", "8" };
        var waves = 2;
        string? json = null;
        for (var i = 0; i < span.Length; i++)
        {
            if (span[i] == "--waves" && i + 1 < span.Length) waves = int.Parse(span[++i]);
            else if (span[i] == "--json" && i + 1 < span.Length) json = span[++i];
            else args.Add(span[i]);
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(waves, 1);
        return new MergeBenchmarkOptions(EngineBenchmarkOptions.Parse([.. args]), waves, json);
    }
}
