using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using InferServer.Api.V1;
using InferServer.Demo;
using InferServer.Kernels.Tests.Structured;

namespace InferServer.Server.Tests.Api.OpenAi;

/// <summary>The demo Llama (random weights, GPT-2's full tokenizer) with its adapters, for the structured-output tests.</summary>
public sealed class StructuredServerFixture : IAsyncLifetime
{
    public const string Adapter = "chat-r8";

    private OpenAiTestServer? server;

    public OpenAiTestServer Server => server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        var model = DemoModelGenerator.EnsureDefault(ProcessScratch.Directory("structured-demo"));
        server = await OpenAiTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Engine:ModelPath"] = model,
            ["Adapters:AdapterRoots:0"] = Path.Combine(model, "adapters"),
            ["Engine:MaxBatchRows"] = "64",
        }, clientTimeout: TimeSpan.FromMinutes(10));
        var (status, body) = await server.PostAsync("v1/load_lora_adapter", new { lora_name = Adapter, lora_path = Path.Combine(model, "adapters", Adapter) });
        Assert.True(status == 200, OpenAiTestServer.Show(body));
    }

    public async Task DisposeAsync()
    {
        if (server is not null) await server.DisposeAsync();
    }
}

/// <summary>Counts live tensors, so it runs alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StructuredServerCollection : ICollectionFixture<StructuredServerFixture>
{
    public const string Name = "Structured output server";
}

/// <summary>
/// Structured outputs through the real server on a model that wants to write garbage (random weights): every output
/// that completes must parse and validate against its schema (JsonSchema.Net), at every temperature, on the base model
/// and an adapter, unary and streamed; a value cut by max_tokens reports "length".
/// </summary>
[Collection(StructuredServerCollection.Name)]
public sealed class OpenAiStructuredOutputTests(StructuredServerFixture fixture)
{
    private OpenAiTestServer Server => fixture.Server;

    private static object Format(string schema) => new
    {
        type = "json_schema",
        json_schema = new { name = "answer", schema = JsonNode.Parse(schema), strict = true },
    };

    private static void AssertValid(string name, string schema, string text)
    {
        using var document = JsonDocument.Parse(text);
        var result = SchemaCorpus.Validator(schema).Evaluate(document.RootElement);
        Assert.True(result.IsValid, $"{name}: {text}");
    }

    [Fact]
    public async Task EveryCompletedOutput_ValidatesAgainstItsSchema_AtEveryTemperature_OnBaseAndAdapter()
    {
        var cases = (from entry in SchemaCorpus.All
                     from temperature in new[] { 0.0, 0.8, 1.5 }
                     from model in new[] { OpenAiTestServer.ServedName, StructuredServerFixture.Adapter }
                     select (entry.Name, entry.Schema, temperature, model)).ToList();
        using var gate = new SemaphoreSlim(32);
        var results = await Task.WhenAll(cases.Select(async item =>
        {
            await gate.WaitAsync();
            try
            {
                var (status, body) = await Server.PostAsync("v1/completions", new
                {
                    model = item.model,
                    prompt = "Answer in JSON:",
                    max_tokens = 96,
                    temperature = item.temperature,
                    seed = 11,
                    response_format = Format(item.Schema),
                });
                Assert.True(status == 200, $"{item.Name}: {OpenAiTestServer.Show(body)}");
                return (item, Text: (string)body!["choices"]![0]!["text"]!, Reason: (string)body["choices"]![0]!["finish_reason"]!);
            }
            finally
            {
                gate.Release();
            }
        }));

        foreach (var (item, text, reason) in results.Where(result => result.Reason == "stop"))
        {
            AssertValid($"{item.Name} T={item.temperature} {item.model}", item.Schema, text);
        }
        Assert.All(results, result => Assert.Contains(result.Reason, new[] { "stop", "length" }));
        // A mask that let garbage through would fail above; one that never let a value finish would pass vacuously.
        var completed = results.Count(result => result.Reason == "stop");
        Assert.True(completed >= results.Length * 2 / 3, $"only {completed} of {results.Length} outputs completed");
        foreach (var model in new[] { OpenAiTestServer.ServedName, StructuredServerFixture.Adapter })
        {
            Assert.Contains(results, result => result.item.model == model && result.Reason == "stop");
        }
    }

    [Fact]
    public async Task StreamedChat_JoinsToAValidValue_ForEveryCorpusSchema()
    {
        var streams = await Task.WhenAll(SchemaCorpus.All.Select(async entry =>
        {
            var (status, _, events) = await Server.StreamAsync("v1/chat/completions", new
            {
                model = StructuredServerFixture.Adapter,
                messages = new[] { new { role = "user", content = "Give me JSON." } },
                max_tokens = 96,
                temperature = 0.8,
                seed = 5,
                stream = true,
                response_format = Format(entry.Schema),
            });
            Assert.Equal(200, status);
            Assert.Equal("[DONE]", events[^1]);
            var chunks = events[..^1].Select(data => JsonNode.Parse(data)!).ToList();
            var text = string.Concat(chunks.Select(chunk => (string?)chunk["choices"]![0]!["delta"]!["content"]));
            return (entry, text, Reason: (string?)chunks[^1]["choices"]![0]!["finish_reason"]);
        }));

        foreach (var (entry, text, reason) in streams.Where(stream => stream.Reason == "stop"))
        {
            AssertValid(entry.Name, entry.Schema, text);
        }
        Assert.True(streams.Count(stream => stream.Reason == "stop") >= streams.Length * 2 / 3);
    }

    [Fact]
    public async Task JsonObjectMode_GivesAnObject_AndMaxTokensInsideTheValueGivesLength()
    {
        var (status, body) = await Server.PostAsync("v1/chat/completions", new
        {
            model = OpenAiTestServer.ServedName,
            messages = new[] { new { role = "user", content = "JSON please" } },
            max_tokens = 200,
            temperature = 0,
            response_format = new { type = "json_object" },
        });
        Assert.True(status == 200, OpenAiTestServer.Show(body));
        var content = (string)body!["choices"]![0]!["message"]!["content"]!;
        if ((string?)body["choices"]![0]!["finish_reason"] == "stop")
        {
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(content).RootElement.ValueKind);
        }

        var (_, cut) = await Server.PostAsync("v1/completions", new
        {
            model = OpenAiTestServer.ServedName,
            prompt = "x",
            max_tokens = 2,
            temperature = 0,
            response_format = Format("""{"type":"object","properties":{"a":{"type":"string","minLength":20}},"required":["a"],"additionalProperties":false}"""),
        });
        Assert.Equal("length", (string?)cut!["choices"]![0]!["finish_reason"]);
        Assert.StartsWith("{", (string?)cut["choices"]![0]!["text"]);
    }

    [Theory]
    [InlineData("""{"type":"json_schema","json_schema":{"name":"z","schema":{"type":"string","pattern":"^a$"}}}""", "response_format.json_schema.schema", "pattern")]
    [InlineData("""{"type":"json_schema","json_schema":{"name":"z","schema":{"type":"object","properties":{"n":{"type":"integer","minimum":1}}}}}""", "response_format.json_schema.schema", "#/properties/n")]
    [InlineData("""{"type":"json_schema","json_schema":{"schema":{"type":"string"}}}""", "response_format.json_schema.name", "required")]
    [InlineData("""{"type":"xml"}""", "response_format.type", "xml")]
    [InlineData("""{"type":"json_object","json_schema":{}}""", "response_format.json_schema", "json_schema")]
    public async Task AnUnsupportedResponseFormat_Is400NamingTheParamAndTheKeyword(string format, string param, string mentioned)
    {
        var (status, body) = await Server.PostAsync("v1/chat/completions", new JsonObject
        {
            ["model"] = OpenAiTestServer.ServedName,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }),
            ["response_format"] = JsonNode.Parse(format),
        });

        Assert.Equal(400, status);
        Assert.Equal(param, (string?)body!["error"]!["param"]);
        Assert.Contains(mentioned, (string?)body["error"]!["message"]);
    }

    [Fact]
    public async Task GrpcResponseFormat_ConstrainsGenerate_AndRefusesAnUnsupportedKeywordWithAFieldViolation()
    {
        using var channel = GrpcChannel.ForAddress(Server.GrpcAddress);
        var client = new Inference.InferenceClient(channel);
        const string schema = """{"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer"}},"required":["ok","n"],"additionalProperties":false}""";

        var response = await client.GenerateAsync(new GenerateRequest
        {
            Text = "JSON:",
            Params = new GenerationParams { MaxNewTokens = 64, Sampling = new SamplingParams { Temperature = 1.5, Seed = 3 }, ResponseFormat = new ResponseFormat { JsonSchema = schema } },
        });
        Assert.Equal(InferServer.Api.V1.FinishReason.Stop, response.FinishReason);
        AssertValid("grpc", schema, response.Text);

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await client.GenerateAsync(new GenerateRequest
        {
            Text = "JSON:",
            Params = new GenerationParams { ResponseFormat = new ResponseFormat { JsonSchema = """{"type":"string","format":"date"}""" } },
        }));
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        var violation = Assert.Single(refused.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations);
        Assert.Equal("params.response_format.json_schema", violation.Field);
        Assert.Contains("format", violation.Description);
    }

    [Fact]
    public async Task ConstrainedRequests_LeaveNoLongLivedTensors()
    {
        var request = new
        {
            model = StructuredServerFixture.Adapter,
            prompt = "JSON:",
            max_tokens = 24,
            temperature = 0.8,
            response_format = Format(SchemaCorpus.All.First(entry => entry.Name == "array-of-objects").Schema),
        };
        // Warm: the first constrained request builds the token trie; the adapter's slot is written.
        await Server.PostAsync("v1/completions", request);
        var before = LiveTensors.Settled();

        for (var i = 0; i < 20; i++)
        {
            var (status, body) = await Server.PostAsync("v1/completions", request);
            Assert.True(status == 200, OpenAiTestServer.Show(body));
        }

        Assert.Equal(before, LiveTensors.Now);
    }
}
