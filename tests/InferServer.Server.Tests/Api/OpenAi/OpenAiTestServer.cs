using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferServer.Server.Api.OpenAi;
using InferServer.Server.Hosting;
using InferServer.Engine.Tests;
using InferServer.Server.Tests.Observability;

namespace InferServer.Server.Tests.Api.OpenAi;

/// <summary>
/// A real InferServer (gRPC, metrics and the OpenAI-compatible API) on 127.0.0.1 with every port 0, serving llama-tiny
/// as "llama-tiny", adapters confined to the llama-tiny fixture adapters. The tokenizer is GPT-2's cut to the model's
/// 1000 ids (<see cref="ModelDirectory"/>), so any text, chat templates included, tokenizes inside the vocabulary.
/// </summary>
public sealed class OpenAiTestServer : IAsyncDisposable
{
    public const string ServedName = "llama-tiny";

    private readonly WebApplication app;

    private OpenAiTestServer(WebApplication app, TimeSpan clientTimeout)
    {
        this.app = app;
        var listener = app.Services.GetRequiredService<OpenAiListener>();
        var endpoints = app.Services.GetRequiredService<ServerEndpoints>();
        OpenAiAddress = listener.Address ?? throw new InvalidOperationException("the OpenAI-compatible API is not listening");
        GrpcAddress = endpoints.GrpcAddress!;
        MetricsAddress = endpoints.HttpAddress!;
        Client = new HttpClient { BaseAddress = OpenAiAddress, Timeout = clientTimeout };
    }

    private static readonly Lazy<string> TruncatedTokenizerModel = new(() =>
    {
        var directory = ProcessScratch.Directory("llama-tiny-gpt2-1000");
        foreach (var file in Directory.GetFiles(EngineFixture.LlamaTinyDirectory))
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)), overwrite: true);
        // Byte-level BPE stays total when cut: the 256 byte tokens remain, and every kept merge yields a kept token.
        const int vocabulary = 1000;
        var vocab = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "vocab.json")))!.AsObject();
        var kept = new JsonObject();
        foreach (var (token, id) in vocab)
        {
            if ((int)id! < vocabulary || token == "<|endoftext|>") kept[token] = (int)id!;
        }
        File.WriteAllText(Path.Combine(directory, "vocab.json"), kept.ToJsonString());
        var merges = File.ReadAllLines(Path.Combine(directory, "merges.txt"));
        // Line 0 is the "#version" header; "# #" further down is a merge.
        File.WriteAllLines(Path.Combine(directory, "merges.txt"), merges.Where((line, index) =>
            index == 0 || (line.Split(' ') is [var left, var right] && kept.ContainsKey(left + right))));
        return directory;
    });

    /// <summary>llama-tiny with GPT-2's tokenizer cut to ids below 1000.</summary>
    public static string ModelDirectory => TruncatedTokenizerModel.Value;

    /// <summary>Where the fixture adapters of llama-tiny live (the server's only adapter root).</summary>
    public static string AdapterRoot => Path.Combine(ReferenceFixtures.BaseDirectory("llama-tiny"), "..", "adapters");

    /// <summary>A fixture adapter's directory.</summary>
    public static string AdapterDirectory(string name) => Path.GetFullPath(Path.Combine(AdapterRoot, name));

    public Uri OpenAiAddress { get; }

    public Uri GrpcAddress { get; }

    public Uri MetricsAddress { get; }

    /// <summary>A client of the OpenAI-compatible API (base address = the server root; paths start with v1/).</summary>
    public HttpClient Client { get; }

    public IServiceProvider Services => app.Services;

    /// <summary>Starts a server; <paramref name="settings"/> add to or override the test configuration.
    /// <paramref name="clientTimeout"/> bounds each request of <see cref="Client"/> (60 s unless given).</summary>
    public static async Task<OpenAiTestServer> StartAsync(IReadOnlyDictionary<string, string?>? settings = null, TimeSpan? clientTimeout = null)
    {
        var builder = InferServerApplication.CreateBuilder([]);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Api:Host"] = "127.0.0.1",
            ["Api:GrpcPort"] = "0",
            ["Api:HttpPort"] = "0",
            ["Api:OpenAiPort"] = "0",
            ["Engine:ModelPath"] = ModelDirectory,
            ["Engine:ServedModelName"] = ServedName,
            ["Engine:KvCacheBytes"] = (8L * 1024 * 1024).ToString(),
            ["Adapters:AdapterRoots:0"] = Path.GetFullPath(AdapterRoot),
            ["Security:AllowUnauthenticatedAdmin"] = "true",
        });
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        builder.AddInferenceEngine(ServedEngineComposition.FromServices);
        var app = builder.Build();
        app.MapInferServer();
        await app.StartAsync();
        return new OpenAiTestServer(app, clientTimeout ?? TimeSpan.FromSeconds(60));
    }

    /// <summary>POSTs <paramref name="body"/> as JSON and returns the status and the parsed JSON answer.</summary>
    public async Task<(int Status, JsonNode? Body)> PostAsync(string path, object body, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (apiKey is not null) request.Headers.Authorization = new("Bearer", apiKey);
        using var response = await Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 || response.Content.Headers.ContentType?.MediaType != "application/json" ? JsonValue.Create(text) : JsonNode.Parse(text));
    }

    /// <summary>POSTs a streaming request and returns the data payloads of its server-sent events, in order.</summary>
    public async Task<(int Status, string ContentType, List<string> Events)> StreamAsync(string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = new List<string>();
        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
            return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType ?? "", events);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(), Encoding.UTF8);
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add(line["data: ".Length..]);
            else Assert.True(line.Length == 0, $"unexpected line in the event stream: {line}");
        }
        return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType ?? "", events);
    }

    /// <summary>The Prometheus exposition at /metrics, parsed.</summary>
    public async Task<PrometheusText> ScrapeAsync()
    {
        using var metrics = new HttpClient { BaseAddress = MetricsAddress };
        return PrometheusText.Parse(await metrics.GetStringAsync("metrics"));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>JSON of a parsed answer, for assertion messages.</summary>
    public static string Show(JsonNode? node) => node?.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) ?? "null";
}
