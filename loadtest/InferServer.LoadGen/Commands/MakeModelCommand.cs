extern alias server;

using System.Diagnostics;
using server::InferServer.Server.Demo;

namespace InferServer.LoadGen.Commands;

/// <summary>
/// make-model: writes the load-test model through the server's own demo generator, so the load tests, the engine
/// benchmark and make-demo all serve the same files. DIR/base holds the model, DIR/base/adapters its tenant adapters
/// tenant-000… (demo: the demo Llama plus 100 rank-16 q/v adapters; large: the LlamaLarge kind, which has them).
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
            _ => throw new ArgumentException($"--preset {preset}: expected demo or large"),
        };
        var seed = commandLine.Int("seed", 1, 0, int.MaxValue);
        if (commandLine.Unused() is { Count: > 0 } unused) throw new ArgumentException($"unknown options {string.Join(' ', unused)}");
        if (commandLine.Positional is not [var directory]) throw new ArgumentException("make-model needs one output directory");

        var timer = Stopwatch.StartNew();
        var model = Path.Combine(Path.GetFullPath(directory), "base");
        DemoModelGenerator.Write(model, kind, seed);
        if (kind == DemoModelKind.Llama)
            DemoModelGenerator.WriteTenantAdapters(Path.Combine(model, "adapters"), kind, TenantAdapters, 16, ["q_proj", "v_proj"], seed);
        Console.WriteLine($"wrote {preset} model and {TenantAdapters} tenant adapters to {model} in {timer.Elapsed.TotalSeconds:0.0} s");
        return 0;
    }
}
