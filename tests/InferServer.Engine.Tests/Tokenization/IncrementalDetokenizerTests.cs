using InferServer.Engine.Tokenization;

namespace InferServer.Engine.Tests.Tokenization;

[Collection(DemoModelCollection.Name)]
public sealed class IncrementalDetokenizerTests(DemoModelDirectories demo)
{
    public static TheoryData<string> MultiByteTexts => new()
    {
        "😀",
        "Emoji 😀👍🏽 family 👨‍👩‍👧 done",
        "日本語のテキストと中文文本",
        "Café crème brûlée, naïve façade, Ærøskøbing",
        "mixed: a😀b日c é 🇫🇷!",
    };

    private static (List<string> Deltas, string Flushed, IncrementalDetokenizer Detokenizer) Stream(TextTokenizer tokenizer, IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var detokenizer = new IncrementalDetokenizer(tokenizer, skipSpecialTokens);
        var deltas = ids.Select(detokenizer.Push).ToList();
        return (deltas, detokenizer.Flush(), detokenizer);
    }

    private static void AssertNoSplitCharacters(IEnumerable<string> deltas)
    {
        foreach (var delta in deltas)
        {
            Assert.DoesNotContain('\uFFFD', delta);
            if (delta.Length > 0)
            {
                Assert.False(char.IsLowSurrogate(delta[0]), $"delta starts with half a surrogate pair: {delta}");
                Assert.False(char.IsHighSurrogate(delta[^1]), $"delta ends with half a surrogate pair: {delta}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(MultiByteTexts))]
    public void ByteLevelBpe_FedTokenByToken_NeverSplitsACharacter_AndConcatenatesToTheFullDecode(string text)
    {
        var ids = demo.Gpt2Tokenizer.Encode(text, addSpecialTokens: false);

        var (deltas, flushed, detokenizer) = Stream(demo.Gpt2Tokenizer, ids);

        AssertNoSplitCharacters(deltas);
        Assert.Equal(string.Empty, flushed);
        Assert.Equal(demo.Gpt2Tokenizer.Decode(ids, skipSpecialTokens: true), string.Concat(deltas));
        Assert.Equal(text, detokenizer.Text);
    }

    [Fact]
    public void EmojiSplitAcrossTokens_IsHeldUntilItsLastByteArrives()
    {
        var ids = demo.Gpt2Tokenizer.Encode("😀", addSpecialTokens: false);
        Assert.True(ids.Count > 1, "GPT-2 spells 😀 with more than one token; the test relies on it");

        var (deltas, _, _) = Stream(demo.Gpt2Tokenizer, ids);

        Assert.All(deltas.Take(deltas.Count - 1), delta => Assert.Equal(string.Empty, delta));
        Assert.Equal("😀", deltas[^1]);
    }

    [Fact]
    public void SequenceEndingMidCharacter_FlushesTheSameReplacementCharacterDecodeGives()
    {
        var ids = demo.Gpt2Tokenizer.Encode("ok 😀", addSpecialTokens: false).SkipLast(1).ToList();

        var (deltas, flushed, _) = Stream(demo.Gpt2Tokenizer, ids);

        AssertNoSplitCharacters(deltas);
        Assert.Equal("\uFFFD", flushed[^1..]);
        Assert.Equal(demo.Gpt2Tokenizer.Decode(ids, skipSpecialTokens: true), string.Concat(deltas) + flushed);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SpecialTokens_AreSkippedOrKept_AsDecodeDoes(bool skipSpecialTokens)
    {
        var ids = demo.Gpt2Tokenizer.Encode("Done.<|endoftext|>Next 😀", addSpecialTokens: false);

        var (deltas, flushed, _) = Stream(demo.Gpt2Tokenizer, ids, skipSpecialTokens);

        Assert.Equal(demo.Gpt2Tokenizer.Decode(ids, skipSpecialTokens), string.Concat(deltas) + flushed);
    }

    [Theory]
    [InlineData("hello world")]
    [InlineData("héllo wörld 😀 日本")]
    public void SentencePiece_FedTokenByToken_DropsOnlyTheFirstSpaceMarker_AndMatchesDecode(string text)
    {
        using var directory = new TemporaryDirectory();
        File.WriteAllBytes(Path.Combine(directory.Path, "tokenizer.model"), SentencePieceModelWriter.Build(SentencePieceTokenizerTests.Pieces));
        var tokenizer = TokenizerLoader.Load(directory.Path);
        var ids = tokenizer.Encode(text, addSpecialTokens: true);

        var (deltas, flushed, _) = Stream(tokenizer, ids);

        AssertNoSplitCharacters(deltas);
        Assert.Equal(text, string.Concat(deltas) + flushed);
        Assert.Equal(tokenizer.Decode(ids, skipSpecialTokens: true), string.Concat(deltas) + flushed);
        Assert.StartsWith("h", deltas.First(delta => delta.Length > 0), StringComparison.Ordinal);
    }

    [Fact]
    public void WordPiece_FedTokenByToken_MatchesDecode()
    {
        var ids = demo.BertTokenizer.Encode("The zebra jumps, quickly!", addSpecialTokens: true);

        var (deltas, flushed, _) = Stream(demo.BertTokenizer, ids);

        Assert.Equal("the zebra jumps, quickly!", string.Concat(deltas) + flushed);
        Assert.Equal(demo.BertTokenizer.Decode(ids, skipSpecialTokens: true), string.Concat(deltas) + flushed);
    }
}
