namespace InferServer.Server.Hosting;

/// <summary>
/// What the process says and returns when the server cannot start (its model, adapters, options or ports cannot be
/// served): one bounded line on stderr for whoever reads the container's output, and EX_CONFIG rather than a crash dump.
/// The host has logged the failure in full already.
/// </summary>
public static class StartFailure
{
    /// <summary>sysexits EX_CONFIG: fix the configuration, restarting will not help.</summary>
    public const int ExitCode = 78;

    private const int MaxReasonChars = 1000;

    /// <summary>Writes the line and returns the exit code: 0 when a shutdown request cancelled the start.</summary>
    public static int Report(Exception error, TextWriter output)
    {
        if (error is OperationCanceledException)
        {
            output.WriteLine("inferserver: stopped before it finished starting");
            return 0;
        }
        output.WriteLine($"inferserver: could not start: {OneLine(error.Message)}");
        return ExitCode;
    }

    // A reason may quote configured values (adapter names, paths): never let one forge a line or fill a log.
    private static string OneLine(string reason)
    {
        var line = string.Concat(reason.Select(c => char.IsControl(c) ? ' ' : c));
        return line.Length <= MaxReasonChars ? line : line[..MaxReasonChars] + $"… ({line.Length - MaxReasonChars} more characters)";
    }
}
