using System.Text;
using InferServer.Server.Api.OpenAi;
using InferServer.Engine.Tests;
using InferServer.Server.Tests.Hosting;
using InferServer.LoadGen.Soak;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// The short soak: the load generator's soak driver (the same code as scripts/soak.sh's long mode) against the real server
/// on loopback for about a minute — the demo Llama, its adapters, 12 tenants and 3 broken adapters; unary and streaming
/// Generate, Chat and OpenAI completions; cancelled streams, expiring deadlines, dropped connections, bursts past the
/// queue, adapters unloaded and loaded while in use, invalid requests. Classify is not in this soak: the demo Llama is
/// causal (the classifier path has its own reliability tests). RSS here is this test process's (server, driver and xunit
/// together), read after a full garbage collection.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class SoakTests(ITestOutputHelper output)
{
    private const int Seed = 20261129;

    private static readonly Lazy<string> ModelRoot = new(() =>
    {
        var root = ProcessScratch.Directory("soak-model");
        SoakModel.Write(root, tenants: 12, seed: 1);
        return root;
    });

    [Fact]
    public async Task AMinuteOfEveryKindOfTraffic_GivesSoloAnswers_CleanEndings_AndReturnsEveryCounter()
    {
        var root = ModelRoot.Value;
        var adapterRoots = SoakModel.AdapterRoots(root);
        await using var server = await TestServer.StartAsync(output, runtime: null, new Dictionary<string, string?>
        {
            ["Engine:ModelPath"] = SoakModel.ModelDirectory(root),
            ["Engine:MaxQueuedRequests"] = "16",
            ["Engine:MaxBatchRows"] = "16",
            ["Engine:PrefixCaching"] = "true", // multi-turn conversations reuse their first turn's blocks
            ["Adapters:AdapterRoots:0"] = adapterRoots[0],
            ["Adapters:AdapterRoots:1"] = adapterRoots[1],
        });
        var openAi = server.Services.GetRequiredService<OpenAiListener>().Address!;
        var targets = new SoakTargets(server.Endpoints.GrpcAddress!, openAi, server.Endpoints.HttpAddress!, TestServer.AdminKey);
        var options = new SoakOptions
        {
            Seed = Seed,
            WarmUp = TimeSpan.FromSeconds(15),
            Duration = TimeSpan.FromSeconds(35),
            BrokenAdapters = SoakModel.Broken,
        };
        var log = new OutputWriter(output);
        var driver = new SoakDriver(targets, options, log) { BeforeRssReading = CollectGarbageAsync };

        var report = await driver.RunAsync(CancellationToken.None);
        report.WriteTo(log);

        Assert.True(report.Passed, $"{report.SummaryLine}; {report.ViolationCount} violations, first: {string.Join(" | ", report.Violations.Take(5))}; leaks: {string.Join(", ", report.Leaks)}");
        // The traffic must really have had each fate; a soak that sent none of them would pass without proving anything.
        Assert.True(report.Cancelled > 0 && report.Deadline > 0 && report.Unloads > 0 && report.Refused > 0, report.SummaryLine + $" refused={report.Refused}");
        Assert.Contains(report.Endings, ending => ending.Key == "Disconnect/Disconnected");
        Assert.Contains(report.Endings, ending => ending.Key == "BrokenAdapter/FailedPrecondition");
        Assert.Contains(report.Endings, ending => ending.Key == "InvalidParameters/InvalidArgument");
        Assert.True(report.Endings["Complete/OK"] > 100, "too few answers were checked against the solo answers");
        // Structured calls (issue 23): completed constrained outputs and forced tool calls were validated (a failure is in
        // Wrong, so Passed), and some streams were cancelled mid-value.
        Assert.True(report.Structured.ConstrainedValid > 0 && report.Structured.ToolRepliesValid > 0 && report.Structured.Cancelled > 0,
            $"too few structured calls were checked: {report.Structured}");
    }

    private static Task CollectGarbageAsync()
    {
        // A compacting full collection returns the driver's garbage to the OS, so it does not count as the server's growth.
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return Task.CompletedTask;
    }

    /// <summary>The driver's progress lines in the test output.</summary>
    private sealed class OutputWriter(ITestOutputHelper output) : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void WriteLine(string? value) => output.WriteLine(value ?? "");
    }
}
