namespace InferServer.Benchmarks.Lora;

/// <summary>Command-line options of the <c>lora</c> benchmark.</summary>
internal sealed record LoraBenchmarkOptions(bool Quick, int Threads, int Iterations, bool Scattered, string Device)
{
    public static LoraBenchmarkOptions Parse(ReadOnlySpan<string> args)
    {
        var options = new LoraBenchmarkOptions(Quick: false, Threads: Environment.ProcessorCount, Iterations: 0, Scattered: false, Device: "cpu");
        for (var i = 0; i < args.Length; i++)
        {
            options = args[i] switch
            {
                "--quick" => options with { Quick = true },
                "--threads" when i + 1 < args.Length => options with { Threads = int.Parse(args[++i]) },
                "--iterations" when i + 1 < args.Length => options with { Iterations = int.Parse(args[++i]) },
                "--device" when i + 1 < args.Length => options with { Device = args[++i] },
                "--layout" when i + 1 < args.Length => options with { Scattered = args[++i] == "scattered" },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'."),
            };
        }

        return options;
    }
}
