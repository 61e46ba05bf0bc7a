using InferServer.Engine.Models.Loading;
using InferServer.Demo;
using InferServer.Engine;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Tests.Models;
using InferServer.Engine.Tokenization;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests;

/// <summary>Classify through the engine on the bert-tiny-cls fixture with the demo WordPiece vocabulary beside it.</summary>
[Collection(EngineCollection.Name)]
public sealed class ClassificationEngineTests
{
    private static readonly string[] Texts =
        ["the movie was good", "i did not like it at all", "ok", "what a wonderful day to go outside and play", "bad"];

    [Fact]
    public async Task Classify_GivesEachTextWhatTheModelGivesIt_AloneAndBatched()
    {
        using var scratch = new TemporaryDirectory();
        var directory = scratch.Path;
        foreach (var file in Directory.GetFiles(ReferenceFixtures.BaseDirectory("bert-tiny-cls")))
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)), overwrite: true);
        DemoTokenizerFiles.WriteBert(directory);
        var tokenizer = TokenizerLoader.Load(directory);
        await using var engine = new InferenceEngine(new EngineOptions { MaxBatchTokens = 16, MaxBatchRows = 3 },
            ModelLoader.Load(directory, ModelLoadOptions.Cpu), tokenizer, new BaseOnlyAdapters(), "bert", NullLogger.Instance, TimeProvider.System);
        using var reference = (ISequenceClassifier)ModelLoader.Load(directory, ModelLoadOptions.Cpu);

        var batched = await engine.ClassifyAsync(new ClassificationRequest(null, Texts));

        Assert.Equal(Texts.Length, batched.Results.Count);
        for (var i = 0; i < Texts.Length; i++)
        {
            using var scope = NewDisposeScope();
            var ids = tokenizer.Encode(Texts[i], addSpecialTokens: true).Select(t => (long)t).ToArray();
            var expected = reference.BaseClassifier(reference.Pool(EncoderTestBatch.Of([ids]))).softmax(-1)[0].data<float>().ToArray();
            var alone = (await engine.ClassifyAsync(new ClassificationRequest(null, [Texts[i]]))).Results[0];
            foreach (var result in new[] { batched.Results[i], alone })
            {
                Assert.Equal(ids.Length, result.PromptTokens);
                Assert.Equal(["negative", "neutral", "positive"], result.Scores.OrderBy(s => s.Index).Select(s => s.Label));
                Assert.True(result.Scores.Zip(result.Scores.Skip(1)).All(p => p.First.Score >= p.Second.Score), "scores must be sorted");
                foreach (var score in result.Scores)
                    Assert.Equal(expected[score.Index], score.Score, 1e-5);
            }
        }
    }

    [Fact]
    public async Task Generate_OnAClassifier_IsRefused()
    {
        var directory = ReferenceFixtures.BaseDirectory("bert-tiny-cls");
        using var tokenizerDirectory = new TemporaryDirectory();
        DemoTokenizerFiles.WriteBert(tokenizerDirectory.Path);
        await using var engine = new InferenceEngine(new EngineOptions(), ModelLoader.Load(directory, ModelLoadOptions.Cpu),
            TokenizerLoader.Load(tokenizerDirectory.Path), new BaseOnlyAdapters(), "bert", NullLogger.Instance, TimeProvider.System);

        await Assert.ThrowsAsync<ModelCapabilityException>(() => EngineFixture.Collect(engine, EngineFixture.Greedy([1, 2], 2)));
    }
}
