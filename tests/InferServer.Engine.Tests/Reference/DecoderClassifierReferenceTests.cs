using InferServer.AdapterStore.Configuration;
using InferServer.Demo;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using InferServer.Engine.Models.Llama;
using InferServer.Engine.Models.Loading;
using InferServer.Engine.Tests.Models;
using InferServer.Engine.Tokenization;
using InferServer.Kernels.Lora;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// The decoder classifier demos (LlamaForSequenceClassification with pad_token_id = eos; Qwen3ForSequenceClassification
/// without a pad token) served in float32 with their SEQ_CLS adapters (own score heads of 1 to 4 labels, LoRA, DoRA,
/// all-linear, embedding LoRA, and LoRA with the base head) against <see cref="ReferenceDecoderClassifier"/>: class
/// probabilities within 1e-5, every row of a batch that mixes all adapters and the base, and each row alone.
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class DecoderClassifierReferenceTests(DemoModels demo, ITestOutputHelper output)
{
    private const double ProbabilityTolerance = 1e-5;

    /// <summary>How much an adapter or the pooling rule must move some probability for the comparisons to be able to see it.</summary>
    private const double VisibleEffect = 1e-3;

    private const long Pad = DemoTokenizerFiles.Gpt2EndOfTextId;

    public static TheoryData<DemoModelKind> Kinds => [DemoModelKind.LlamaClassifier, DemoModelKind.Qwen3Classifier];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ClassProbabilities_OfEveryAdapterAndTheBase_MatchTheFloat64Reference_MixedInOneBatchAndAlone(DemoModelKind kind)
    {
        var directory = demo.Directory(kind);
        var adapterNames = demo.Written.Single(w => w.Kind == kind).Adapters.ToArray();
        using var model = (ISequenceClassifier)ModelLoader.Load(directory, ModelLoadOptions.Cpu);
        using var pooled = new PooledAdapters(model, [.. adapterNames.Select(a => demo.AdapterDirectory(kind, a))]);
        using var reference = ReferenceDecoderClassifier.Load(directory);
        var loras = adapterNames.Select(a => ReferenceLora.Load(demo.AdapterDirectory(kind, a))).ToArray();
        var heads = adapterNames.Select(a => ReferenceDecoderClassifier.AdapterHead(demo.AdapterDirectory(kind, a))).ToArray();
        try
        {
            var prompts = Prompts(kind);
            // Every slot (adapter i in slot i + 1) and the base, over prompts of different lengths, interleaved.
            int[] slots = [.. Enumerable.Range(0, 2 * (adapterNames.Length + 1)).Select(i => i % (adapterNames.Length + 1))];
            var rows = slots.Select((_, i) => prompts[i % prompts.Length]).ToArray();

            var batched = Classify(model, pooled, rows, slots);

            var worst = 0.0;
            for (var i = 0; i < rows.Length; i++)
            {
                var adapter = slots[i] - 1;
                var expected = adapter < 0 ? reference.Probabilities(rows[i]) : reference.Probabilities(rows[i], loras[adapter], heads[adapter]);
                var alone = Classify(model, pooled, [rows[i]], [slots[i]])[0];
                foreach (var actual in new[] { batched[i], alone })
                {
                    Assert.Equal(expected.Length, actual.Length);
                    var difference = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
                    Assert.True(difference <= ProbabilityTolerance,
                        $"{kind} row {i} ({(adapter < 0 ? "base" : adapterNames[adapter])}, {rows[i].Length} tokens): {difference:E3}");
                    worst = Math.Max(worst, difference);
                }
                if (adapter >= 0 && expected.Length == model.Labels.Count)
                {
                    var effect = expected.Zip(reference.Probabilities(rows[i]), (a, b) => Math.Abs(a - b)).Max();
                    Assert.True(effect > VisibleEffect, $"{adapterNames[adapter]} moves the probabilities by only {effect:E3}");
                }
            }
            output.WriteLine($"{kind}: max |float32 - float64 reference| over {rows.Length} rows = {worst:E3}");
        }
        finally
        {
            foreach (var lora in loras)
                lora.Dispose();
            foreach (var head in heads)
                head?.Dispose();
        }
    }

    [Fact]
    public void TrailingPadTokens_AreNotPooled_WhenTheConfigHasAPadToken_AsTransformersSkipsThem()
    {
        var directory = demo.Directory(DemoModelKind.LlamaClassifier);
        using var model = (ISequenceClassifier)ModelLoader.Load(directory, ModelLoadOptions.Cpu);
        using var reference = ReferenceDecoderClassifier.Load(directory);
        var prompt = Prompts(DemoModelKind.LlamaClassifier)[0];
        long[] padded = [.. prompt, Pad, Pad];

        var served = Classify(model, null, [prompt, padded], [0, 0]);

        // Causal attention: the state at the last real token does not see the pads after it.
        Assert.True(served[0].Zip(served[1], (a, b) => Math.Abs(a - b)).Max() <= ProbabilityTolerance);
        Assert.True(reference.Probabilities(padded).Zip(served[1], (a, b) => Math.Abs(a - b)).Max() <= ProbabilityTolerance);
        // Pooling the last token instead would give visibly different probabilities.
        using var scope = NewDisposeScope();
        var batch = EncoderTestBatch.Of([padded]);
        var lastToken = model.BaseClassifier(model.Encode(batch).narrow(0, padded.Length - 1, 1)).softmax(-1).to(ScalarType.Float64).data<double>().ToArray();
        Assert.True(lastToken.Zip(served[1], (a, b) => Math.Abs(a - b)).Max() > VisibleEffect);
    }

    [Theory]
    [InlineData(new long[] { 5, 6, 7 }, null, 2)]
    [InlineData(new long[] { 5, 6, 7 }, 9, 2)]
    [InlineData(new long[] { 5, 9, 7, 9, 9 }, 9, 2)]
    [InlineData(new long[] { 9, 9, 9 }, 9, 0)]
    [InlineData(new long[] { 5, 9, 9 }, 9, 0)]
    [InlineData(new long[] { 9 }, 9, 0)]
    [InlineData(new long[] { 9, 9, 5 }, 9, 2)]
    public void PooledPosition_IsTheRightmostNonPadToken_OrTheLastWithoutAPadToken(long[] ids, int? pad, int expected) =>
        Assert.Equal(expected, LlamaForSequenceClassification.PooledPosition(ids, pad));

    [Fact]
    public async Task Classify_ThroughTheEngine_BatchesHeadsOfDifferentLabelCounts_EachAsTheReferenceGivesIt()
    {
        const DemoModelKind kind = DemoModelKind.LlamaClassifier;
        var directory = demo.Directory(kind);
        var adapterNames = demo.Written.Single(w => w.Kind == kind).Adapters.ToArray();
        await using var engine = StoreBackedEngine.Start(new EngineOptions { MaxBatchRows = 64 }, directory, new AdapterStoreOptions
        {
            AdapterRoots = [Path.Combine(directory, "adapters")],
            DeviceSlots = adapterNames.Length,
            MaxRank = 8,
            MergeEnabled = false,
        });
        using var reference = ReferenceDecoderClassifier.Load(directory);
        var tokenizer = TokenizerLoader.Load(directory);
        string[] texts = ["What a wonderful film", "SELECT name FROM users", "the end<|endoftext|><|endoftext|>"];

        // Loaded first, so that the calls below meet in the same steps.
        foreach (var adapter in adapterNames)
            await engine.Engine.ClassifyAsync(new ClassificationRequest(adapter, ["warm up"]));
        string?[] requested = [null, .. adapterNames];
        var results = await Task.WhenAll(requested.Select(adapter => engine.Engine.ClassifyAsync(new ClassificationRequest(adapter, texts))));

        for (var r = 0; r < requested.Length; r++)
        {
            var adapter = requested[r];
            using var lora = adapter is null ? null : ReferenceLora.Load(demo.AdapterDirectory(kind, adapter));
            using var head = adapter is null ? null : ReferenceDecoderClassifier.AdapterHead(demo.AdapterDirectory(kind, adapter));
            for (var t = 0; t < texts.Length; t++)
            {
                var ids = tokenizer.Encode(texts[t], addSpecialTokens: true).Select(id => (long)id).ToArray();
                var expected = reference.Probabilities(ids, lora, head);
                var scores = results[r].Results[t].Scores.OrderBy(s => s.Index).ToArray();
                Assert.Equal(expected.Length, scores.Length);
                Assert.Equal(ids.Length, results[r].Results[t].PromptTokens);
                for (var label = 0; label < expected.Length; label++)
                    Assert.Equal(expected[label], scores[label].Score, ProbabilityTolerance);
            }
        }
        Assert.Equal(["negative", "neutral", "positive"], results[0].Results[0].Scores.OrderBy(s => s.Index).Select(s => s.Label));
        Assert.Equal(["negative", "positive"], results[1].Results[0].Scores.OrderBy(s => s.Index).Select(s => s.Label));
        // One output: a sigmoid (a reward), not a softmax that is always 1.
        var reward = results[Array.IndexOf(requested, "reward-all-linear-cls1")].Results[0].Scores.Single();
        Assert.Equal("reward", reward.Label);
        Assert.InRange(reward.Score, 1e-6, 1 - 1e-6);
    }

    [Fact]
    public async Task Embed_OnADecoderClassifier_IsRefusedAsNotServed()
    {
        var directory = demo.Directory(DemoModelKind.Qwen3Classifier);
        await using var engine = new InferenceEngine(new EngineOptions(), ModelLoader.Load(directory, ModelLoadOptions.Cpu),
            TokenizerLoader.Load(directory), new BaseOnlyAdapters(), "qwen3classifier", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
            TimeProvider.System);

        var error = await Assert.ThrowsAsync<ModelCapabilityException>(() => engine.EmbedAsync(new EmbeddingRequest(null, ["hello"])));
        Assert.Contains("Embed is not served", error.Message);
        var classified = await engine.ClassifyAsync(new ClassificationRequest(null, ["hello"]));
        Assert.Equal(2, classified.Results[0].Scores.Count);
    }

    // Real text of three lengths, and for the classifier with a pad token texts ending in pads and made of pads only.
    private long[][] Prompts(DemoModelKind kind)
    {
        var tokenizer = TokenizerLoader.Load(demo.Directory(kind));
        string[] texts = ["Once upon a time", "SELECT name FROM users WHERE id =", string.Concat(Enumerable.Repeat("The quick brown fox. ", 8))];
        var prompts = texts.Select(text => tokenizer.Encode(text, addSpecialTokens: true).Select(id => (long)id).ToList()).ToList();
        prompts.Add([.. prompts[0], Pad, Pad]);
        prompts.Add([Pad, Pad, Pad]);
        prompts.Add([464]);
        return [.. prompts.Select(p => p.ToArray())];
    }

    /// <summary>The served path's math for these rows: one encoder step, each row's head, softmax (sigmoid for one label).</summary>
    private static double[][] Classify(ISequenceClassifier model, PooledAdapters? pooled, long[][] rows, int[] slots)
    {
        using var scope = NewDisposeScope();
        var tokenSlots = rows.SelectMany((row, i) => Enumerable.Repeat(slots[i], row.Length)).ToArray();
        using var lora = tokenSlots.Any(s => s != 0) ? LoraBatch.Create(tokenSlots, CPU) : null;
        var batch = EncoderTestBatch.Of(rows, lora);
        var states = model.Pool(model.Encode(batch), batch);
        var results = new double[rows.Length][];
        for (var i = 0; i < rows.Length; i++)
        {
            var head = slots[i] == 0 ? null : pooled!.Adapters[slots[i] - 1].Classifier;
            var logits = head is null ? model.BaseClassifier(states.narrow(0, i, 1)) : nn.functional.linear(states.narrow(0, i, 1), head.Weight);
            var probabilities = logits.shape[1] == 1 ? logits.sigmoid() : logits.softmax(-1);
            results[i] = probabilities.to(ScalarType.Float64)[0].data<double>().ToArray();
        }
        return results;
    }
}
