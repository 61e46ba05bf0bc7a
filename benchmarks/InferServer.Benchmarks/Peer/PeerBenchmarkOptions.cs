namespace InferServer.Benchmarks.Peer;

/// <summary>Command-line options of the peer benchmark.</summary>
/// <param name="Concurrency">Concurrent requests per measurement.</param>
/// <param name="NewTokens">Tokens generated per request.</param>
/// <param name="PromptTokens">Prompt length per request.</param>
/// <param name="Repeats">Measured rounds (after one discarded warm-up round); medians are reported.</param>
/// <param name="Threads">Threads for both engines (libtorch intra-op, llama.cpp); 0 = the machine's cores.</param>
/// <param name="CheckPrompts">Prompts whose greedy tokens must agree on both engines, each on the base model and two adapters.</param>
/// <param name="CacheRoot">Where the benchmark model and its GGUF conversion are kept.</param>
/// <param name="ChartDirectory">Where the SVG chart is written; null = no chart.</param>
public sealed record PeerBenchmarkOptions(int[] Concurrency, int NewTokens, int PromptTokens, int Repeats, int Threads, int CheckPrompts,
    string CacheRoot, string? ChartDirectory)
{
    /// <summary>
    /// Parses <c>peer [--quick] [--concurrency 1,8,64] [--tokens N] [--prompt N] [--repeats N] [--threads N] [--check N] [--cache DIR] [--chart DIR]</c>.
    /// <c>--quick</c> (one round of 8-token generations) fits in about three minutes on a quiet 2-core machine.
    /// </summary>
    public static PeerBenchmarkOptions Parse(ReadOnlySpan<string> span)
    {
        var args = span.ToArray();
        var options = new PeerBenchmarkOptions([1, 8, 64], 24, 8, 3, 0, 4, Path.Combine(Path.GetTempPath(), "inferserver-bench"), null);
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--quick" => options with { NewTokens = 8, Repeats = 1, CheckPrompts = 2 },
                "--concurrency" => options with { Concurrency = Value().Split(',').Select(int.Parse).ToArray() },
                "--tokens" => options with { NewTokens = int.Parse(Value()) },
                "--prompt" => options with { PromptTokens = int.Parse(Value()) },
                "--repeats" => options with { Repeats = int.Parse(Value()) },
                "--threads" => options with { Threads = int.Parse(Value()) },
                "--check" => options with { CheckPrompts = int.Parse(Value()) },
                "--cache" => options with { CacheRoot = Value() },
                "--chart" => options with { ChartDirectory = Value() },
                var other => throw new ArgumentException($"unknown option '{other}'"),
            };
        }
        if (options.NewTokens < 2 || options.Repeats < 1 || options.Concurrency.Length == 0 || options.Concurrency.Any(c => c < 1 || c > 64))
        {
            throw new ArgumentException("--tokens must be at least 2, --repeats at least 1, each concurrency 1 to 64");
        }
        return options;
    }
}
