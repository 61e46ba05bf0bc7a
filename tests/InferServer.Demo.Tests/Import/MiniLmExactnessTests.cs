using InferServer.Engine;
using InferServer.Engine.Tokenization;

namespace InferServer.Demo.Tests.Import;

/// <summary>
/// The served all-MiniLM-L6-v2 against ONNX Runtime running the package's own graph on real sentences: Embed against
/// sentence-transformers' mean-pooled, normalised output, Classify's pooler path against the graph's pooler output, and
/// both with a LoRA adapter against the graph with s·B·A merged into its initializers. Tolerance 1e-5.
/// </summary>
[Collection(MiniLmCollection.Name)]
public sealed class MiniLmExactnessTests(MiniLmFixture fixture)
{
    private const double Tolerance = 1e-5;

    public static readonly string[] Sentences =
    [
        "A man is playing a guitar on the stage.",
        "The new movie is awesome!",
        "Stocks fell sharply on Tuesday after the central bank raised interest rates by 0.5%.",
        "Café owners in Zürich say the naïve tourists don't tip.",
        "How do I reset my password?",
        "It's raining cats and dogs.",
        "supercalifragilisticexpialidocious quuxbaz zyzzogeton",
        "Hello",
    ];

    [Fact]
    public async Task Embed_MatchesOnnxRuntime_MeanPooledAndNormalized_BatchedAndAlone()
    {
        await using var runtime = await fixture.StartEngine();
        var engine = runtime.Engine;
        var tokenizer = TokenizerLoader.Load(fixture.Directory);
        var batched = await engine.EmbedAsync(new EmbeddingRequest(null, Sentences));
        for (var i = 0; i < Sentences.Length; i++)
        {
            var ids = tokenizer.Encode(Sentences[i], addSpecialTokens: true);
            var expected = MiniLmFixture.MeanPooledNormalized(MiniLmFixture.Run(fixture.Reference, ids).LastHidden);
            var alone = (await engine.EmbedAsync(new EmbeddingRequest(null, [Sentences[i]]))).Results[0];
            foreach (var result in new[] { batched.Results[i], alone })
            {
                Assert.Equal(ids.Count, result.PromptTokens);
                TensorAssert.Close(expected, result.Vector, Tolerance, $"sentence {i}");
            }
        }
    }

    [Fact]
    public async Task Embed_WithoutNormalize_IsTheRawMean()
    {
        await using var runtime = await fixture.StartEngine();
        var engine = runtime.Engine;
        var tokenizer = TokenizerLoader.Load(fixture.Directory);
        var result = await engine.EmbedAsync(new EmbeddingRequest(null, [Sentences[0]], Normalize: false));
        var hidden = MiniLmFixture.Run(fixture.Reference, tokenizer.Encode(Sentences[0], addSpecialTokens: true)).LastHidden;
        var mean = Enumerable.Range(0, hidden[0].Length).Select(h => hidden.Average(row => (double)row[h])).ToArray();
        TensorAssert.Close(mean, result.Results[0].Vector, Tolerance, "raw mean");
    }

    [Fact]
    public async Task Embed_WithALoraAdapter_MatchesTheGraphWithTheAdapterMergedIn()
    {
        await using var runtime = await fixture.StartEngine();
        var engine = runtime.Engine;
        var tokenizer = TokenizerLoader.Load(fixture.Directory);
        using var merged = MiniLmFixture.NewSession(OnnxGraphMerge.WithAdapter(fixture.OnnxBytes, Path.Combine(fixture.Directory, "adapters", "embed-r8")));
        // Base and adapter rows in flight together: each gets its own result.
        var adapted = engine.EmbedAsync(new EmbeddingRequest("embed-r8", Sentences));
        var plain = engine.EmbedAsync(new EmbeddingRequest(null, Sentences));
        var (adaptedResult, plainResult) = (await adapted, await plain);
        for (var i = 0; i < Sentences.Length; i++)
        {
            var ids = tokenizer.Encode(Sentences[i], addSpecialTokens: true);
            var expected = MiniLmFixture.MeanPooledNormalized(MiniLmFixture.Run(merged, ids).LastHidden);
            TensorAssert.Close(expected, adaptedResult.Results[i].Vector, Tolerance, $"sentence {i} with embed-r8");
            TensorAssert.Close(MiniLmFixture.MeanPooledNormalized(MiniLmFixture.Run(fixture.Reference, ids).LastHidden), plainResult.Results[i].Vector, Tolerance, $"sentence {i} without adapter");
            Assert.True(expected.Zip(plainResult.Results[i].Vector).Max(p => Math.Abs(p.First - p.Second)) > 1e-3, "the adapter must change the vector");
        }
    }

    [Fact]
    public async Task Classify_WithAHeadAdapter_MatchesThePoolerOutputOfTheMergedGraph()
    {
        await using var runtime = await fixture.StartEngine();
        var engine = runtime.Engine;
        var tokenizer = TokenizerLoader.Load(fixture.Directory);
        var adapterDirectory = Path.Combine(fixture.Directory, "adapters", "sentiment-cls2");
        using var merged = MiniLmFixture.NewSession(OnnxGraphMerge.WithAdapter(fixture.OnnxBytes, adapterDirectory));
        using var weights = InferServer.Safetensors.SafetensorsFile.Open(Path.Combine(adapterDirectory, "adapter_model.safetensors"));
        var head = weights.Read("base_model.model.classifier.weight").data<float>().ToArray();
        var bias = weights.Read("base_model.model.classifier.bias").data<float>().ToArray();

        var result = await engine.ClassifyAsync(new ClassificationRequest("sentiment-cls2", Sentences));
        for (var i = 0; i < Sentences.Length; i++)
        {
            var pooled = MiniLmFixture.Run(merged, tokenizer.Encode(Sentences[i], addSpecialTokens: true)).Pooled;
            var logits = Enumerable.Range(0, 2).Select(l => bias[l] + pooled.Select((p, h) => (double)p * head[l * pooled.Length + h]).Sum()).ToArray();
            var softmax = logits.Select(l => Math.Exp(l - logits.Max())).ToArray();
            var expected = softmax.Select(e => e / softmax.Sum()).ToArray();
            Assert.Equal(["negative", "positive"], result.Results[i].Scores.OrderBy(s => s.Index).Select(s => s.Label));
            foreach (var score in result.Results[i].Scores)
                Assert.Equal(expected[score.Index], score.Score, Tolerance);
        }
    }

    [Fact]
    public async Task Classify_WithoutAnAdapter_IsRefused_TheModelHasNoHead()
    {
        await using var runtime = await fixture.StartEngine();
        var engine = runtime.Engine;
        var error = await Assert.ThrowsAsync<ModelCapabilityException>(() => engine.ClassifyAsync(new ClassificationRequest(null, ["hi"])));
        Assert.Contains("Embed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Embed_PutsParaphrasesCloserThanUnrelatedSentences()
    {
        await using var runtime = await fixture.StartEngine();
        var engine = runtime.Engine;
        string[] texts =
        [
            "A man is playing a guitar.", "Someone is strumming a guitar.",
            "How do I bake bread at home?", "What is a simple recipe for homemade bread?",
            "The stock market crashed today.", "Share prices fell sharply this afternoon.",
        ];
        var vectors = (await engine.EmbedAsync(new EmbeddingRequest(null, texts))).Results.Select(r => r.Vector).ToArray();
        for (var pair = 0; pair < texts.Length; pair += 2)
        {
            var paraphrase = Cosine(vectors[pair], vectors[pair + 1]);
            for (var other = 0; other < texts.Length; other++)
            {
                if (other / 2 != pair / 2)
                    Assert.True(paraphrase > Cosine(vectors[pair], vectors[other]) + 0.2,
                        $"'{texts[pair]}' is {paraphrase:F3} from its paraphrase but {Cosine(vectors[pair], vectors[other]):F3} from '{texts[other]}'");
            }
        }
    }

    private static double Cosine(float[] a, float[] b) =>
        a.Zip(b).Sum(p => (double)p.First * p.Second) / Math.Sqrt(a.Sum(x => (double)x * x) * b.Sum(x => (double)x * x));
}
