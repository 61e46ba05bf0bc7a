namespace InferServer.Benchmarks.Engine;

/// <summary>Command-line options of the engine benchmark.</summary>
/// <param name="Model">"demo" (the embedded demo Llama), "medium" (LlamaMedium, the scaling benchmark's model) or "large" (the Llama-shaped benchmark model).</param>
/// <param name="Concurrency">Concurrent requests per measurement.</param>
/// <param name="NewTokens">Tokens generated per request.</param>
/// <param name="PromptTokens">Prompt length per request.</param>
/// <param name="Repeats">Measurements per cell; the median is reported.</param>
/// <param name="Threads">libtorch intra-op threads (0 = default).</param>
/// <param name="CacheRoot">Where the models are generated.</param>
public sealed record EngineBenchmarkOptions(string Model, int[] Concurrency, int NewTokens, int PromptTokens, int Repeats, int Threads, string CacheRoot)
{
    /// <summary>Parses <c>engine [--model demo|large] [--concurrency 1,8,64] [--tokens N] [--prompt N] [--repeats N] [--threads N] [--cache DIR]</c>.</summary>
    public static EngineBenchmarkOptions Parse(ReadOnlySpan<string> span)
    {
        var args = span.ToArray();
        var options = new EngineBenchmarkOptions("demo", [1, 8, 64], 32, 16, 3, 0,
            Path.Combine(Path.GetTempPath(), "inferserver-bench"));
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--model" => options with { Model = Value() },
                "--concurrency" => options with { Concurrency = Value().Split(',').Select(int.Parse).ToArray() },
                "--tokens" => options with { NewTokens = int.Parse(Value()) },
                "--prompt" => options with { PromptTokens = int.Parse(Value()) },
                "--repeats" => options with { Repeats = int.Parse(Value()) },
                "--threads" => options with { Threads = int.Parse(Value()) },
                "--cache" => options with { CacheRoot = Value() },
                var other => throw new ArgumentException($"unknown option '{other}'"),
            };
        }
        if (options.Model is not ("demo" or "medium" or "large"))
            throw new ArgumentException($"--model must be demo, medium or large, got '{options.Model}'");
        return options;
    }
}
