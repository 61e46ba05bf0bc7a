using System.Globalization;

namespace InferServer.Benchmarks.Encoder;

/// <summary>Command line of the encoder benchmark.</summary>
public sealed record EncoderBenchmarkOptions
{
    public IReadOnlyList<int> Batches { get; init; } = [1, 8, 64];
    public int Threads { get; init; } = 2;
    public int Repeats { get; init; } = 7;
    public bool Grpc { get; init; } = true;
    /// <summary>Let ONNX Runtime's threads spin while waiting (its default; off here so its CPU time is work, see EncoderBenchmark).</summary>
    public bool OnnxSpinning { get; init; }
    public string ModelDirectory { get; init; } = Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "inferserver", "minilm");
    /// <summary>Engine:EncoderMaxBatchTokens; 0 = the engine's default.</summary>
    public int EncoderBatchTokens { get; init; }

    public static EncoderBenchmarkOptions Parse(ReadOnlySpan<string> args)
    {
        var options = new EncoderBenchmarkOptions();
        for (var i = 0; i < args.Length; i++)
        {
            options = args[i] switch
            {
                "--batches" => options with { Batches = args[++i].Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToArray() },
                "--threads" => options with { Threads = int.Parse(args[++i], CultureInfo.InvariantCulture) },
                "--repeats" => options with { Repeats = int.Parse(args[++i], CultureInfo.InvariantCulture) },
                "--model" => options with { ModelDirectory = args[++i] },
                "--encoder-batch-tokens" => options with { EncoderBatchTokens = int.Parse(args[++i], CultureInfo.InvariantCulture) },
                "--no-grpc" => options with { Grpc = false },
                "--onnx-spinning" => options with { OnnxSpinning = true },
                "--quick" => options with { Repeats = 3 },
                var other => throw new ArgumentException($"unknown option '{other}'"),
            };
        }
        return options;
    }
}
