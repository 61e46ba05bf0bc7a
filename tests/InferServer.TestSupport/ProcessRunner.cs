using System.Diagnostics;

namespace InferServer.TestSupport;

/// <summary>Runs an external program (npm, node) for a test, shows its output, and kills it past a time limit.</summary>
public static class ProcessRunner
{
    /// <summary>Runs <paramref name="program"/> in <paramref name="directory"/> and returns its exit code; writes the command,
    /// its stdout and stderr to <paramref name="log"/> (a test's output) however it ends.</summary>
    public static async Task<int> RunAsync(
        string program, IReadOnlyList<string> arguments, string directory, Action<string> log, TimeSpan limit,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} ran past {limit}");
        }
        finally
        {
            log($"$ {program} {string.Join(' ', arguments)}");
            log(await stdout);
            log(await stderr);
        }
        return process.ExitCode;
    }
}
