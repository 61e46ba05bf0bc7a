using InferServer.Demo;
using System.Net;
using System.Text;
using System.Text.Json;
using InferServer.Safetensors;
using InferServer.Server.Api.OpenAi;
using InferServer.Server.Tests.Hosting;
using InferServer.Engine.Tokenization;
using InferServer.Engine.Tests;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// Logprobs that are not finite numbers: an adapter whose weights hold NaN (a fine-tune that diverged; or, on a GPU in
/// half precision, logits that overflow to infinity) gives NaN or infinite logprobs. gRPC carries them as floats; the
/// OpenAI API must answer too, with valid JSON, instead of failing the request with 500 "internal error" because
/// System.Text.Json refuses to write NaN and infinity (vLLM clamps such logprobs, e.g. -inf to -9999.0).
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class NonFiniteLogprobsTests(ITestOutputHelper output)
{
    private const string NanAdapter = "nan-weights";

    private static readonly Lazy<string> Root = new(() =>
    {
        var root = ProcessScratch.Directory("nan-adapters");
        var directory = Path.Combine(root, NanAdapter);
        Directory.CreateDirectory(directory);
        using var scope = NewDisposeScope();
        SafetensorsWriter.Write(Path.Combine(directory, "adapter_model.safetensors"), new Dictionary<string, Tensor>
        {
            ["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] = full(4, 64, float.NaN),
            ["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"] = full(64, 4, float.NaN),
        });
        File.WriteAllText(Path.Combine(directory, "adapter_config.json"), JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["r"] = 4,
            ["lora_alpha"] = 8,
            ["target_modules"] = new[] { "q_proj" },
            ["layers_to_transform"] = new[] { 0 },
            ["bias"] = "none",
        }));
        return root;
    });

    private Task<TestServer> StartAsync() => TestServer.StartAsync(output, runtime: null, new Dictionary<string, string?>
    {
        ["Engine:ModelPath"] = EngineFixture.LlamaTinyDirectory,
        ["Engine:KvCacheBytes"] = (8L * 1024 * 1024).ToString(),
        ["Adapters:AdapterRoots:0"] = Root.Value,
        ["Adapters:MaxRank"] = "16",
    });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OpenAiCompletionWithLogprobs_OnAnAdapterGivingNaNLogits_AnswersValidJson_NotInternalError(bool stream)
    {
        await using var server = await StartAsync();
        using var openAi = new HttpClient { BaseAddress = server.Services.GetRequiredService<OpenAiListener>().Address };
        var body = JsonSerializer.Serialize(new { model = NanAdapter, prompt = new[] { 5, 17, 42, 99 }, max_tokens = 3, logprobs = 2, stream });

        using var response = await openAi.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"answered {(int)response.StatusCode}: {text}");
        Assert.DoesNotContain("internal", text, StringComparison.OrdinalIgnoreCase);
        foreach (var json in stream
                     ? text.Split("\n\n").Select(e => e.Trim()).Where(e => e.StartsWith("data: {", StringComparison.Ordinal)).Select(e => e["data: ".Length..])
                     : [text])
            JsonDocument.Parse(json).Dispose();
    }

    /// <summary>bert-tiny-cls (demo WordPiece vocabulary) and a copy of its adapter qv-r4-cls2 with every weight NaN.</summary>
    private static readonly Lazy<(string Model, string Adapters)> Encoder = new(() =>
    {
        var root = ProcessScratch.Directory("nan-encoder");
        var model = Path.Combine(root, "model");
        Directory.CreateDirectory(model);
        foreach (var file in Directory.GetFiles(ReferenceFixtures.BaseDirectory("bert-tiny-cls")))
            File.Copy(file, Path.Combine(model, Path.GetFileName(file)), overwrite: true);
        DemoTokenizerFiles.WriteBert(model);
        var adapters = Path.Combine(root, "adapters");
        var nan = Path.Combine(adapters, NanAdapter);
        Directory.CreateDirectory(nan);
        var source = ReferenceFixtures.AdapterDirectory("bert-tiny-cls", "qv-r4-cls2");
        File.Copy(Path.Combine(source, "adapter_config.json"), Path.Combine(nan, "adapter_config.json"), overwrite: true);
        var bytes = File.ReadAllBytes(Path.Combine(source, "adapter_model.safetensors"));
        var headerLength = (int)BitConverter.ToUInt64(bytes, 0);
        using (var header = JsonDocument.Parse(bytes.AsMemory(8, headerLength)))
        {
            foreach (var tensor in header.RootElement.EnumerateObject().Where(entry => entry.Name != "__metadata__"))
            {
                Assert.Equal("F32", tensor.Value.GetProperty("dtype").GetString());
                var offsets = tensor.Value.GetProperty("data_offsets");
                for (var at = 8 + headerLength + offsets[0].GetInt32(); at < 8 + headerLength + offsets[1].GetInt32(); at += 4)
                    BitConverter.TryWriteBytes(bytes.AsSpan(at, 4), float.NaN);
            }
        }
        File.WriteAllBytes(Path.Combine(nan, "adapter_model.safetensors"), bytes);
        return (model, adapters);
    });

    /// <summary>The same for embeddings: an adapter with NaN weights gives NaN vectors; /v1/embeddings (floats) must not
    /// answer 500 "internal error" (base64 carries them; gRPC Embed carries them as floats).</summary>
    [Fact]
    public async Task OpenAiEmbeddings_OnAnAdapterGivingNaNVectors_IsNotAnInternalError()
    {
        var (model, adapters) = Encoder.Value;
        await using var server = await TestServer.StartAsync(output, runtime: null, new Dictionary<string, string?>
        {
            ["Engine:ModelPath"] = model,
            ["Adapters:AdapterRoots:0"] = adapters,
            ["Adapters:MaxRank"] = "16",
        });
        using var openAi = new HttpClient { BaseAddress = server.Services.GetRequiredService<OpenAiListener>().Address };
        var body = JsonSerializer.Serialize(new { model = NanAdapter, input = new[] { "the movie was good" } });

        using var response = await openAi.PostAsync("/v1/embeddings", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.True((int)response.StatusCode is not 500, $"answered {(int)response.StatusCode}: {text}");
        Assert.DoesNotContain("internal", text, StringComparison.OrdinalIgnoreCase);
        JsonDocument.Parse(text).Dispose();
    }
}
