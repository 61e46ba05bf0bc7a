using InferServer.Demo.Tests.Import;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using InferServer.Api.V1;
using InferServer.Server.Tests.Api.OpenAi;
using InferServer.Engine.Tokenization;

namespace InferServer.Server.Tests.Api;

/// <summary>
/// all-MiniLM-L6-v2 served through both front doors: gRPC Embed and OpenAI's POST /v1/embeddings, checked against
/// ONNX Runtime and against each other.
/// </summary>
[Collection(MiniLmApiCollection.Name)]
public sealed class MiniLmApiTests(MiniLmFixture fixture)
{
    private const string ServedName = "all-MiniLM-L6-v2";

    [Fact]
    public async Task Embeddings_ThroughGrpcAndOpenAi_MatchOnnxRuntime_FloatAndBase64()
    {
        await using var server = await StartAsync();
        var texts = MiniLmExactnessTests.Sentences[..3];
        var tokenizer = TokenizerLoader.Load(fixture.Directory);
        var expected = texts.Select(t => MiniLmFixture.MeanPooledNormalized(
            MiniLmFixture.Run(fixture.Reference, tokenizer.Encode(t, addSpecialTokens: true)).LastHidden)).ToArray();

        using var channel = GrpcChannel.ForAddress(server.GrpcAddress);
        var grpc = await new Inference.InferenceClient(channel).EmbedAsync(new EmbedRequest { Texts = { texts } });
        var (status, floats) = await server.PostAsync("v1/embeddings", new { model = ServedName, input = texts });
        Assert.True(status == 200, OpenAiTestServer.Show(floats));
        var (status64, base64) = await server.PostAsync("v1/embeddings", new { model = ServedName, input = texts, encoding_format = "base64" });
        Assert.True(status64 == 200, OpenAiTestServer.Show(base64));

        Assert.Equal("list", (string?)floats!["object"]);
        Assert.Equal(grpc.Results.Sum(r => r.PromptTokens), (int)floats["usage"]!["prompt_tokens"]!);
        for (var i = 0; i < texts.Length; i++)
        {
            var item = floats["data"]![i]!;
            Assert.Equal(i, (int)item["index"]!);
            var fromJson = item["embedding"]!.AsArray().Select(v => (float)v!).ToArray();
            var fromBase64 = new float[fromJson.Length];
            Buffer.BlockCopy(Convert.FromBase64String((string)base64!["data"]![i]!["embedding"]!), 0, fromBase64, 0, fromJson.Length * 4);
            Assert.Equal(grpc.Results[i].Vector, fromJson);
            Assert.Equal(fromJson, fromBase64);
            Assert.True(expected[i].Zip(fromJson).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5);
        }
    }

    [Fact]
    public async Task Embeddings_ForAnAdapter_DifferFromTheBase_AndAStringInputIsOneText()
    {
        await using var server = await StartAsync();
        var (_, plain) = await server.PostAsync("v1/embeddings", new { model = ServedName, input = "A man is playing a guitar." });
        var (status, adapted) = await server.PostAsync("v1/embeddings", new { model = "embed-r8", input = "A man is playing a guitar." });
        Assert.True(status == 200, OpenAiTestServer.Show(adapted));
        Assert.Single(plain!["data"]!.AsArray());
        Assert.Equal("embed-r8", (string?)adapted!["model"]);
        Assert.NotEqual(Vector(plain), Vector(adapted));
        Assert.Equal(384, Vector(adapted).Length);
    }

    [Fact]
    public async Task Embeddings_RefuseDimensionsOtherThanTheModelsWidth_AndTokenIds()
    {
        await using var server = await StartAsync();
        var (status, body) = await server.PostAsync("v1/embeddings", new { model = ServedName, input = "hi", dimensions = 128 });
        Assert.Equal(400, status);
        Assert.Equal("dimensions", (string?)body!["error"]!["param"]);
        var (same, _) = await server.PostAsync("v1/embeddings", new { model = ServedName, input = "hi", dimensions = 384 });
        Assert.Equal(200, same);
        var (ids, idsBody) = await server.PostAsync("v1/embeddings", new { model = ServedName, input = new[] { 101, 102 } });
        Assert.Equal(400, ids);
        Assert.Equal("input", (string?)idsBody!["error"]!["param"]);
        var (format, formatBody) = await server.PostAsync("v1/embeddings", new { model = ServedName, input = "hi", encoding_format = "int8" });
        Assert.Equal(400, format);
        Assert.Equal("encoding_format", (string?)formatBody!["error"]!["param"]);
    }

    [Fact]
    public async Task GrpcEmbed_WithNormalizeFalse_ReturnsTheRawMean_AndClassifyWithoutAnAdapterIsRefused()
    {
        await using var server = await StartAsync();
        using var channel = GrpcChannel.ForAddress(server.GrpcAddress);
        var client = new Inference.InferenceClient(channel);
        var raw = await client.EmbedAsync(new EmbedRequest { Texts = { "hello world" }, Normalize = false });
        var norm = Math.Sqrt(raw.Results[0].Vector.Sum(v => (double)v * v));
        Assert.True(Math.Abs(norm - 1) > 0.01, $"a raw mean should not have unit norm, got {norm}");
        var error = await Assert.ThrowsAsync<RpcException>(async () => await client.ClassifyAsync(new ClassifyRequest { Texts = { "hi" } }));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        var classified = await client.ClassifyAsync(new ClassifyRequest { Adapter = "sentiment-cls2", Texts = { "hi" } });
        Assert.Equal(2, classified.Results[0].Scores.Count);
    }

    private Task<OpenAiTestServer> StartAsync() => OpenAiTestServer.StartAsync(new Dictionary<string, string?>
    {
        ["Engine:ModelPath"] = fixture.Directory,
        ["Engine:ServedModelName"] = ServedName,
        ["Adapters:AdapterRoots:0"] = Path.Combine(fixture.Directory, "adapters"),
    });

    private static float[] Vector(JsonNode? body) => body!["data"]![0]!["embedding"]!.AsArray().Select(v => (float)v!).ToArray();
}
