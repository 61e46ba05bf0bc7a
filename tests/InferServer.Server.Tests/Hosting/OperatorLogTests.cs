using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using InferServer.Api.V1;
using InferServer.Server.Tests.Reliability;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Hosting;

/// <summary>
/// Issue #28, item 5: the log as a new operator sees it. The server is started as its own process from a working directory
/// that is not its own (scripts/soak.sh starts it from the repository root), serves the README's demo traffic (a gRPC
/// Generate, an OpenAI completion, a request for an unknown adapter, one for a corrupt adapter) and stops on SIGTERM.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed partial class OperatorLogTests(ITestOutputHelper output)
{
    private const string CorruptAdapter = BrokenAdapters.CorruptConfig;
    private const int DemoRequests = 4;

    [Fact]
    public async Task DemoTraffic_FromAnotherWorkingDirectory_LogsNoFailureNoStackTraceOneWarningAndNoRequestLines()
    {
        if (!OperatingSystem.IsLinux()) return;
        var log = await RunDemoTrafficAsync();

        var entries = Entries(log);
        Assert.DoesNotContain(log.Split('\n'), line => line.StartsWith("fail:", StringComparison.Ordinal)
            || line.StartsWith("crit:", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Split('\n'), line => StackFrame().IsMatch(line));
        var warning = Assert.Single(entries, entry => entry.Level == "warn");
        Assert.Contains(CorruptAdapter, warning.Text);
        Assert.Contains("adapter_config.json", warning.Text);
        // Per-request lines (ASP.NET Core's hosting and routing, the request log) stay off at the default settings.
        Assert.DoesNotContain(entries, entry => entry.Level == "info" && (entry.Category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)
            || entry.Category == "InferServer.Requests"));
    }

    [Fact]
    public async Task RequestLogOn_WritesOneStructuredJsonLinePerRequest()
    {
        if (!OperatingSystem.IsLinux()) return;
        var log = await RunDemoTrafficAsync("--Logging:LogLevel:InferServer.Requests=Information", "--Logging:Console:FormatterName=json");

        var requests = log.Split('\n')
            .Where(line => line.StartsWith('{'))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(entry => entry.GetProperty("Category").GetString() == "InferServer.Requests")
            .ToList();
        Assert.Equal(DemoRequests, requests.Count);
        Assert.All(requests, entry => Assert.Equal("Information", entry.GetProperty("LogLevel").GetString()));
        var fields = requests.Select(entry => entry.GetProperty("State")).ToList();
        // Order-free: a response can reach the client a moment before its line is written.
        Assert.Equal(
            ["grpc chat-r8 OK", $"grpc {CorruptAdapter} FailedPrecondition", "grpc no-such-adapter NotFound", "openai chat-r8 OK"],
            fields.Select(state => $"{state.GetProperty("Api").GetString()} {state.GetProperty("Adapter").GetString()} {state.GetProperty("Status").GetString()}")
                .Order(StringComparer.Ordinal));
        Assert.All(fields, state => Assert.True(state.GetProperty("DurationMs").GetDouble() >= 0));
        Assert.All(fields, state => Assert.False(string.IsNullOrEmpty(state.GetProperty("Method").GetString())));
        Assert.DoesNotContain("\"LogLevel\":\"Error\"", log);
        Assert.DoesNotContain("\"LogLevel\":\"Critical\"", log);
    }

    /// <summary>Starts the server from an empty directory, sends the demo requests one after another, stops it, returns its log.</summary>
    private async Task<string> RunDemoTrafficAsync(params string[] options)
    {
        var workingDirectory = ProcessScratch.Directory("operator-log-cwd-" + Guid.NewGuid().ToString("N"));
        var model = ServerProcess.DemoLlamaDirectory();
        await using var server = ServerProcess.StartDemoLlamaIn(workingDirectory, output,
            ["--adapters", Path.Combine(model, "adapters"), "--Adapters:AdapterRoots:1=" + BrokenAdapters.WriteRoot(),
            "--Engine:TorchThreads=1", .. options]);
        var grpcAddress = await server.GrpcAddress(TimeSpan.FromSeconds(60));
        var openAiAddress = await server.OpenAiAddress(TimeSpan.FromSeconds(60));
        using var channel = GrpcChannel.ForAddress(grpcAddress);
        var client = new Inference.InferenceClient(channel);
        using var http = new HttpClient { BaseAddress = openAiAddress, Timeout = TimeSpan.FromSeconds(60) };

        var generated = await client.GenerateAsync(Generate("chat-r8"));
        Assert.NotEmpty(generated.Text);
        using (var completion = await http.PostAsJsonAsync("v1/completions",
            new { model = "chat-r8", prompt = "Once upon a time", max_tokens = 8 }))
        {
            Assert.True(completion.IsSuccessStatusCode, await completion.Content.ReadAsStringAsync());
        }
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await client.GenerateAsync(Generate("no-such-adapter")));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        var corrupt = await Assert.ThrowsAsync<RpcException>(async () => await client.GenerateAsync(Generate(CorruptAdapter)));
        Assert.Equal(StatusCode.FailedPrecondition, corrupt.StatusCode);

        server.Terminate();
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the server did not exit after SIGTERM");
        Assert.Equal(0, server.ExitCode);
        return server.Log.Replace("\r", "");
    }

    private static GenerateRequest Generate(string adapter) => new()
    {
        Adapter = adapter,
        Text = "Once upon a time",
        Params = new GenerationParams { MaxNewTokens = 8 },
    };

    /// <summary>The simple console formatter's entries: "level: category[id]", then the message's lines indented.</summary>
    private static List<(string Level, string Category, string Text)> Entries(string log)
    {
        var entries = new List<(string Level, string Category, string Text)>();
        foreach (var line in log.Split('\n'))
        {
            if (EntryHeader().Match(line) is { Success: true } header)
                entries.Add((header.Groups["level"].Value, header.Groups["category"].Value, ""));
            else if (entries.Count > 0 && line.StartsWith("      ", StringComparison.Ordinal))
                entries[^1] = entries[^1] with { Text = entries[^1].Text + line.Trim() + "\n" };
        }
        return entries;
    }

    [GeneratedRegex(@"^(?<level>trce|dbug|info|warn|fail|crit): (?<category>[^\[]+)\[\d+\]")]
    private static partial Regex EntryHeader();

    // "   at Namespace.Type.Method(…)" as Exception.ToString() writes it, indented further by the console formatter.
    [GeneratedRegex(@"^\s+at [\w.`<>|]+[.(]")]
    private static partial Regex StackFrame();
}
