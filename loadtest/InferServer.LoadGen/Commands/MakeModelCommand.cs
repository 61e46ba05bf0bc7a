using System.Diagnostics;
using System.Globalization;
using InferServer.Demo;

namespace InferServer.LoadGen.Commands;

/// <summary>
/// make-model: writes the load-test model through the server's own demo generator, so the load tests, the engine
/// benchmark and make-demo all serve the same files. DIR/base holds the model, DIR/base/adapters its tenant adapters
/// tenant-000… (demo: the demo Llama plus 100 rank-16 q/v adapters; large: the LlamaLarge kind, which has them;
/// medium: the LlamaMedium kind plus --adapters q/v adapters of --ranks, cycled, named --adapter-prefix000…).
/// </summary>
public static class MakeModelCommand
{
    public const int TenantAdapters = 100;

    public static int Execute(CommandLine commandLine)
    {
        var preset = commandLine.String("preset", "demo");
        var kind = preset switch
        {
            "demo" => DemoModelKind.Llama,
            "large" => DemoModelKind.LlamaLarge,
            "medium" => DemoModelKind.LlamaMedium,
            _ => throw new ArgumentException($"--preset {preset}: expected demo, medium or large"),
        };
        var seed = commandLine.Int("seed", 1, 0, int.MaxValue);
        var count = commandLine.Int("adapters", TenantAdapters, 0, 100_000);
        var ranks = commandLine.String("ranks", "16").Split(',').Select(rank => int.Parse(rank, CultureInfo.InvariantCulture)).ToArray();
        var prefix = commandLine.String("adapter-prefix", "tenant-");
        var adaptersOnly = commandLine.Flag("adapters-only");
        if (commandLine.Unused() is { Count: > 0 } unused) throw new ArgumentException($"unknown options {string.Join(' ', unused)}");
        if (commandLine.Positional is not [var directory]) throw new ArgumentException("make-model needs one output directory");
        if (kind == DemoModelKind.LlamaLarge && (count != TenantAdapters || ranks is not [16] || prefix != "tenant-"))
            throw new ArgumentException("--preset large has its own 100 rank-16 adapters; --adapters, --ranks and --adapter-prefix apply to demo and medium");

        var timer = Stopwatch.StartNew();
        var model = Path.Combine(Path.GetFullPath(directory), "base");
        if (!adaptersOnly)
            DemoModelGenerator.Write(model, kind, seed);
        if (kind != DemoModelKind.LlamaLarge)
            DemoModelGenerator.WriteTenantAdapters(Path.Combine(model, "adapters"), kind, count, ranks, ["q_proj", "v_proj"], prefix, seed);
        Console.WriteLine($"wrote {(adaptersOnly ? "" : $"{preset} model and ")}{count} adapters ({prefix}*, ranks {string.Join(',', ranks)}) to {model} "
                          + $"in {timer.Elapsed.TotalSeconds:0.0} s");
        return 0;
    }
}
