using InferServer.Demo;

namespace InferServer.Demo.Tests;

public sealed class MakeDemoCommandTests : IDisposable
{
    private readonly TemporaryDirectory scratch = new();
    private readonly StringWriter output = new();
    private readonly StringWriter error = new();

    public static TheoryData<string[], string> BadCommandLines => new()
    {
        { ["make-demo"], "the output directory is missing" },
        { ["make-demo", "out", "--kind", "t5"], "unknown kind 't5'" },
        { ["make-demo", "out", "--seed", "seven"], "--seed takes an integer, not 'seven'" },
        { ["make-demo", "out", "--kind"], "--kind needs a value" },
        { ["make-demo", "out", "--verbose"], "unknown option '--verbose'" },
        { ["make-demo", "out", "more"], "unexpected argument 'more'" },
    };

    [Theory]
    [MemberData(nameof(BadCommandLines))]
    public void MalformedCommandLine_NamesTheProblemPrintsUsageAndWritesNothing(string[] args, string problem)
    {
        var exitCode = MakeDemoCommand.Run(args, output, error);

        Assert.Equal(MakeDemoCommand.UsageExitCode, exitCode);
        Assert.Contains(problem, error.ToString());
        Assert.Contains(MakeDemoCommand.Usage, error.ToString());
        Assert.False(Directory.Exists("out"));
    }

    [Fact]
    public void OneKind_IsWrittenIntoTheDirectoryWithTheGivenSeed_AndReported()
    {
        var directory = scratch.File("bert");

        var exitCode = MakeDemoCommand.Run(["make-demo", directory, "--kind", "bert", "--seed", "3"], output, error);

        Assert.Equal(0, exitCode);
        Assert.Equal("", error.ToString());
        Assert.StartsWith($"bert: {directory} (", output.ToString());
        Assert.Contains("adapter sentiment-cls2: ", output.ToString());
        var viaApi = DemoModelGenerator.Write(scratch.File("api"), DemoModelKind.Bert, seed: 3);
        Assert.Equal(File.ReadAllBytes(Path.Combine(viaApi.Directory, "model.safetensors")), File.ReadAllBytes(Path.Combine(directory, "model.safetensors")));
    }

    [Fact]
    public void UnwritableDirectory_IsAFailureNotAUsageError()
    {
        var blocker = scratch.File("file");
        File.WriteAllText(blocker, "a file where the directory should go");

        var exitCode = MakeDemoCommand.Run([Path.Combine(blocker, "demo"), "--kind", "bert"], output, error);

        Assert.Equal(MakeDemoCommand.FailureExitCode, exitCode);
        Assert.Contains("cannot write", error.ToString());
    }

    public void Dispose() => scratch.Dispose();
}
