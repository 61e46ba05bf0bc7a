using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using InferServer.Server.Tests.Engine;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// The server process itself (Program.cs, not the in-process TestServer): SIGTERM, as Kubernetes sends it on every
/// rollout, must drain and exit 0. Program reads EngineLifetime.ExitCode after app.RunAsync(), and RunAsync disposes the
/// service provider, so resolving EngineLifetime there threw ObjectDisposedException: every graceful stop ended in an
/// unhandled exception and SIGABRT (exit 134), and the documented exit code 70 after an engine fault was never returned.
/// </summary>
public sealed class ProcessExitTests(ITestOutputHelper output)
{
    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    private const int SigTerm = 15;

    [Fact]
    public async Task SigTerm_DrainsAndExitsZero_WithoutAnUnhandledException()
    {
        if (!OperatingSystem.IsLinux()) return;
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[]
                 {
                     Path.Combine(AppContext.BaseDirectory, "inferserver.dll"), "--model", EngineFixture.LlamaTinyDirectory,
                     "--port", "0", "--http-port", "0", "--openai-port", "0", "--Engine:KvCacheBytes=8388608",
                     "--Api:DrainTimeout=00:00:05",
                 })
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server");
        var log = new StringBuilder();
        var started = new TaskCompletionSource();
        void Collect(object _, DataReceivedEventArgs line)
        {
            if (line.Data is null) return;
            lock (log) log.AppendLine(line.Data);
            if (line.Data.Contains("Application started", StringComparison.Ordinal)) started.TrySetResult();
        }
        process.OutputDataReceived += Collect;
        process.ErrorDataReceived += Collect;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await started.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(0, Kill(process.Id, SigTerm));
            await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            lock (log) output.WriteLine(log.ToString());
        }

        string text;
        lock (log) text = log.ToString();
        Assert.DoesNotContain("Unhandled exception", text);
        Assert.Equal(0, process.ExitCode);
    }
}
