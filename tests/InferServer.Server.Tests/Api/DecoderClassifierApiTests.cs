using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using InferServer.Api.V1;
using InferServer.Demo;
using InferServer.Engine.Tests;
using InferServer.Server.Tests.Api.OpenAi;

namespace InferServer.Server.Tests.Api;

/// <summary>
/// The llamaclassifier demo (LlamaForSequenceClassification with SEQ_CLS adapters) through both front doors: gRPC Classify
/// and vLLM's POST /classify give the same probabilities, for the base head and for adapters with heads of other sizes.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class DecoderClassifierApiTests
{
    private const string ServedName = "llama-classifier";

    private static readonly Lazy<string> ModelDirectory = new(() =>
    {
        var directory = ProcessScratch.Directory("llamaclassifier-api");
        DemoModelGenerator.Write(directory, DemoModelKind.LlamaClassifier);
        return directory;
    });

    private static readonly string[] Texts = ["What a wonderful film", "SELECT name FROM users"];

    [Fact]
    public async Task Classify_OverHttpAndGrpc_GivesTheSameProbabilities_InVllmsShape()
    {
        await using var server = await StartAsync();
        using var channel = GrpcChannel.ForAddress(server.GrpcAddress);
        var grpc = new Inference.InferenceClient(channel);

        foreach (var (model, adapter, classes) in new[] { (ServedName, "", 3), ("sentiment-cls2", "sentiment-cls2", 2), ("topic-dora-cls4", "topic-dora-cls4", 4) })
        {
            var (status, body) = await server.PostAsync("classify", new { model, input = Texts });
            Assert.True(status == 200, OpenAiTestServer.Show(body));
            var expected = await grpc.ClassifyAsync(new ClassifyRequest { Adapter = adapter, Texts = { Texts } });

            Assert.StartsWith("classify-", (string?)body!["id"]);
            Assert.Equal("list", (string?)body["object"]);
            Assert.Equal(model, (string?)body["model"]);
            Assert.Equal(expected.Results.Sum(r => r.PromptTokens), (int)body["usage"]!["prompt_tokens"]!);
            Assert.Equal(0, (int)body["usage"]!["completion_tokens"]!);
            for (var i = 0; i < Texts.Length; i++)
            {
                var item = body["data"]![i]!;
                var probs = item["probs"]!.AsArray().Select(p => (double)p!).ToArray();
                var byIndex = expected.Results[i].Scores.OrderBy(s => s.Index).ToArray();
                Assert.Equal(i, (int)item["index"]!);
                Assert.Equal(classes, (int)item["num_classes"]!);
                Assert.Equal(byIndex.Select(s => s.Score), probs);
                Assert.Equal(expected.Results[i].Scores[0].Label, (string?)item["label"]);
                Assert.Equal(1.0, probs.Sum(), 1e-6);
            }
        }
    }

    [Fact]
    public async Task Classify_RefusesTokenIdsAndUnknownFields_AndEmbeddingsOnADecoderClassifier()
    {
        await using var server = await StartAsync();

        var (ids, idsBody) = await server.PostAsync("classify", new { model = ServedName, input = new[] { 1, 2 } });
        Assert.Equal(400, ids);
        Assert.Equal("input", (string?)idsBody!["error"]!["param"]);
        var (unknown, unknownBody) = await server.PostAsync("classify", new { model = ServedName, input = "hi", truncate_prompt_tokens = 4 });
        Assert.Equal(400, unknown);
        Assert.Equal("truncate_prompt_tokens", (string?)unknownBody!["error"]!["param"]);
        var (embed, embedBody) = await server.PostAsync("v1/embeddings", new { model = ServedName, input = "hi" });
        Assert.True(embed is >= 400 and < 500, OpenAiTestServer.Show(embedBody));
        Assert.Contains("Embed is not served", (string?)embedBody!["error"]!["message"]);

        using var channel = GrpcChannel.ForAddress(server.GrpcAddress);
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await new Inference.InferenceClient(channel).EmbedAsync(new EmbedRequest { Texts = { "hi" } }));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
    }

    [Fact]
    public async Task Classify_ATextOverTheContext_IsNamedByEachFrontDoorsOwnField()
    {
        await using var server = await StartAsync();
        // Under the character limit, over the model's 512-token context: only the engine, which tokenizes, can tell.
        var tooLong = string.Join(' ', Enumerable.Range(0, 1500));

        var (status, body) = await server.PostAsync("classify", new { model = ServedName, input = new[] { "fine", tooLong } });

        Assert.Equal(400, status);
        Assert.Equal("input[1]", (string?)body!["error"]!["param"]);
        Assert.StartsWith("input[1]: ", (string?)body["error"]!["message"]);
        using var channel = GrpcChannel.ForAddress(server.GrpcAddress);
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await new Inference.InferenceClient(channel).ClassifyAsync(new ClassifyRequest { Texts = { "fine", tooLong } }));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("texts[1]", Assert.Single(error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations).Field);
    }

    private static Task<OpenAiTestServer> StartAsync() => OpenAiTestServer.StartAsync(new Dictionary<string, string?>
    {
        ["Engine:ModelPath"] = ModelDirectory.Value,
        ["Engine:ServedModelName"] = ServedName,
        ["Adapters:AdapterRoots:0"] = Path.Combine(ModelDirectory.Value, "adapters"),
    });
}
