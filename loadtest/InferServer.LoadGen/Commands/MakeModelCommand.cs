using System.Diagnostics;
using InferServer.LoadGen.Models;

namespace InferServer.LoadGen.Commands;

/// <summary>make-model: writes the random demo or large model and its adapters.</summary>
public static class MakeModelCommand
{
    public static int Execute(CommandLine commandLine)
    {
        var preset = commandLine.String("preset", "demo");
        var shape = preset switch
        {
            "demo" => LlamaShape.Demo,
            "large" => LlamaShape.Large,
            _ => throw new ArgumentException($"--preset {preset}: expected demo or large"),
        };
        var seed = commandLine.Int("seed", 1, 0, int.MaxValue);
        if (commandLine.Unused() is { Count: > 0 } unused) throw new ArgumentException($"unknown options {string.Join(' ', unused)}");
        if (commandLine.Positional is not [var directory]) throw new ArgumentException("make-model needs one output directory");

        var timer = Stopwatch.StartNew();
        RandomLlamaWriter.Write(directory, shape, seed);
        Console.WriteLine($"wrote {preset} model to {Path.GetFullPath(directory)}/base and {shape.AdapterCount} adapters to " +
                          $"{Path.GetFullPath(directory)}/adapters in {timer.Elapsed.TotalSeconds:0.0} s");
        return 0;
    }
}
