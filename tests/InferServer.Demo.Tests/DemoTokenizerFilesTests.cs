using InferServer.Demo;
using InferServer.Engine.Tests.Tokenization;

namespace InferServer.Demo.Tests;

/// <summary>The demo models' tokenizer files (<see cref="DemoTokenizerFiles"/>): real vocabularies, as the tokenizers read them.</summary>
[Collection(DemoModelCollection.Name)]
public sealed class DemoTokenizerFilesTests(DemoModelDirectories demo)
{
    [Fact]
    public void DemoVocabulary_StartsWithBertsSpecialTokens()
    {
        Assert.Equal(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], DemoTokenizerFiles.BertVocabulary.Take(5));
        Assert.InRange(DemoTokenizerFiles.BertVocabularySize, 300, 1000);
        Assert.Equal(DemoTokenizerFiles.BertVocabularySize, demo.BertTokenizer.VocabularySize);
        Assert.Equal("wordpiece", demo.BertTokenizer.Kind);
        Assert.Equal(0, demo.BertTokenizer.PadTokenId);
        Assert.Equal(1, demo.BertTokenizer.UnknownTokenId);
    }

    [Fact]
    public void DemoMerges_AreGpt2sFiftyThousandInPriorityOrder()
    {
        var lines = File.ReadAllLines(Path.Combine(demo.Gpt2, "merges.txt"));

        Assert.Equal("#version: 0.2", lines[0]);
        Assert.Equal(50_001, lines.Length);
        Assert.Equal("Ġ t", lines[1]);
    }
}
