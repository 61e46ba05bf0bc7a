using InferServer.Engine.Tokenization;

namespace InferServer.Engine.Tests.Tokenization;

[Collection(DemoModelCollection.Name)]
public sealed class BertTokenizerTests(DemoModelDirectories demo)
{
    private int Id(string token) => demo.BertTokenizer.TokenToId(token) ?? throw new InvalidOperationException($"{token} is not in the demo vocabulary");

    [Fact]
    public void AddingSpecialTokens_WrapsTheTextInClsAndSep()
    {
        var ids = demo.BertTokenizer.Encode("Hello world", addSpecialTokens: true);

        Assert.Equal([2, Id("hello"), Id("world"), 3], ids);
        Assert.Equal([Id("hello"), Id("world")], demo.BertTokenizer.Encode("Hello world", addSpecialTokens: false));
    }

    [Theory]
    [InlineData("The quick brown fox jumps over the lazy dog.", "the quick brown fox jumps over the lazy dog.")]
    [InlineData("Zebras, quokkas and axolotls!", "zebras, quokkas and axolotls!")]
    [InlineData("Tokens cost 42 dollars (today)", "tokens cost 42 dollars ( today )")]
    public void Text_RoundTripsLowerCased(string text, string expected)
    {
        var ids = demo.BertTokenizer.Encode(text, addSpecialTokens: true);

        Assert.DoesNotContain(1, ids);
        Assert.Equal(expected, demo.BertTokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void UnknownWord_IsSplitIntoContinuationPieces()
    {
        var ids = demo.BertTokenizer.Encode("zebra", addSpecialTokens: false);

        Assert.Equal([Id("z"), Id("##e"), Id("##b"), Id("##r"), Id("##a")], ids);
    }

    [Fact]
    public void DecodingWithSpecialTokens_ShowsClsAndSep()
    {
        var ids = demo.BertTokenizer.Encode("hello world", addSpecialTokens: true);

        Assert.Equal("[CLS] hello world [SEP]", demo.BertTokenizer.Decode(ids, skipSpecialTokens: false));
    }
}
