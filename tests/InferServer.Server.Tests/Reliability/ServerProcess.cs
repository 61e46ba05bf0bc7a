using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using InferServer.Demo;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>The server as its own process (Program.cs), as a container runs it: arguments in, log and exit code out, signals.</summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private const int SigTerm = 15;

    private readonly Process process;
    private readonly ITestOutputHelper output;
    private readonly StringBuilder log = new();
    private static readonly Lock DemoLock = new();

    private readonly TaskCompletionSource<Uri> openAi = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Uri> grpc = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(Process process, ITestOutputHelper output)
    {
        this.process = process;
        this.output = output;
    }

    /// <summary>Starts inferserver.dll from the test's output directory with <paramref name="arguments"/>.</summary>
    public static ServerProcess Start(ITestOutputHelper output, params string[] arguments) =>
        StartIn(AppContext.BaseDirectory, output, arguments);

    /// <summary>Starts inferserver.dll (in the test's output directory) with <paramref name="workingDirectory"/> as its working directory.</summary>
    public static ServerProcess StartIn(string workingDirectory, ITestOutputHelper output, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
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

    /// <summary>
    /// Starts the server on the demo Llama (GPT-2's vocabulary, 512 positions; written once per test process), served
    /// as "demo", on ports the OS picks, with <paramref name="options"/> added.
    /// </summary>
    public static ServerProcess StartDemoLlama(ITestOutputHelper output, params string[] options) =>
        StartDemoLlamaIn(AppContext.BaseDirectory, output, options);

    /// <summary>As <see cref="StartDemoLlama"/>, with <paramref name="workingDirectory"/> as the process's working directory.</summary>
    public static ServerProcess StartDemoLlamaIn(string workingDirectory, ITestOutputHelper output, params string[] options)
    {
        var model = DemoLlamaDirectory();
        return StartIn(workingDirectory, output, ["--model", model, "--port", "0", "--http-port", "0", "--openai-port", "0",
            "--Engine:ServedModelName=demo", .. options]);
    }

    /// <summary>The demo Llama's directory (its adapters in "adapters"), written once per test process.</summary>
    public static string DemoLlamaDirectory()
    {
        var model = ProcessScratch.Directory("demo-llama-for-drain");
        lock (DemoLock)
        {
            if (!File.Exists(Path.Combine(model, "model.safetensors")))
                DemoModelGenerator.Write(model, DemoModelKind.Llama);
        }
        return model;
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

    /// <summary>The gRPC listener's address, once the server announced its listeners.</summary>
    public Task<Uri> GrpcAddress(TimeSpan timeout) => grpc.Task.WaitAsync(timeout);

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
        if (OpenAiListener().Match(line.Data) is { Success: true } openAiMatch)
            openAi.TrySetResult(new Uri(openAiMatch.Groups["address"].Value.TrimEnd('/') + "/"));
        if (GrpcListener().Match(line.Data) is { Success: true } grpcMatch)
            grpc.TrySetResult(new Uri(grpcMatch.Groups["address"].Value));
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    [GeneratedRegex(@"(?<address>http://[^\s,]+) \(OpenAI HTTP\)")]
    private static partial Regex OpenAiListener();

    [GeneratedRegex(@"InferServer listening on (?<address>http://[^\s,]+) \(gRPC\)")]
    private static partial Regex GrpcListener();
}
