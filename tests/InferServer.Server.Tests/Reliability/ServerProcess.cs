using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>The server as its own process (Program.cs), as a container runs it: arguments in, log and exit code out, signals.</summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private const int SigTerm = 15;

    private readonly Process process;
    private readonly ITestOutputHelper output;
    private readonly StringBuilder log = new();
    private readonly TaskCompletionSource<Uri> openAi = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(Process process, ITestOutputHelper output)
    {
        this.process = process;
        this.output = output;
    }

    /// <summary>Starts inferserver.dll from the test's output directory with <paramref name="arguments"/>.</summary>
    public static ServerProcess Start(ITestOutputHelper output, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inferserver.dll"));
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        var server = new ServerProcess(Process.Start(start) ?? throw new InvalidOperationException("could not start the server"), output);
        server.process.OutputDataReceived += server.Collect;
        server.process.ErrorDataReceived += server.Collect;
        server.process.BeginOutputReadLine();
        server.process.BeginErrorReadLine();
        return server;
    }

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Log
    {
        get
        {
            lock (log) return log.ToString();
        }
    }

    public int ExitCode => process.ExitCode;

    /// <summary>The OpenAI API's base address, once the server announced its listeners.</summary>
    public Task<Uri> OpenAiAddress(TimeSpan timeout) => openAi.Task.WaitAsync(timeout);

    /// <summary>Sends SIGTERM, as Kubernetes does on every rollout.</summary>
    public void Terminate()
    {
        if (Kill(process.Id, SigTerm) != 0)
            throw new InvalidOperationException($"kill failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Waits for the process to exit; false if it is still running after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await process.WaitForExitAsync(new CancellationTokenSource(timeout).Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        output.WriteLine(Log);
        process.Dispose();
    }

    private void Collect(object sender, DataReceivedEventArgs line)
    {
        if (line.Data is null) return;
        lock (log) log.AppendLine(line.Data);
        if (OpenAiListener().Match(line.Data) is { Success: true } match)
            openAi.TrySetResult(new Uri(match.Groups["address"].Value.TrimEnd('/') + "/"));
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    [GeneratedRegex(@"(?<address>http://[^\s,]+) \(OpenAI HTTP\)")]
    private static partial Regex OpenAiListener();
}
