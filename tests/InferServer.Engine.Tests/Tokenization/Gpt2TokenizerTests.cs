using InferServer.Demo;
using InferServer.Engine.Tokenization;
using Microsoft.ML.Tokenizers;

namespace InferServer.Engine.Tests.Tokenization;

[Collection(DemoModelCollection.Name)]
public sealed class Gpt2TokenizerTests(DemoModelDirectories demo)
{
    public static TheoryData<string> Texts => new()
    {
        "Hello world",
        "The quick brown fox jumps over the lazy dog.\n\n  Indented line\twith tab",
        "Café crème brûlée, naïve façade",
        "日本語のテキストと中文文本",
        "Emoji 😀👍🏽 and a family 👨‍👩‍👧 in one line",
        "Numbers 1234567 and symbols #$%^&*() 'quoted' it's we'll",
    };

    [Fact]
    public void HelloWorld_EncodesToGpt2sKnownIds()
    {
        Assert.Equal([15496, 995], demo.Gpt2Tokenizer.Encode("Hello world", addSpecialTokens: false));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Text_RoundTripsThroughEncodeAndDecode(string text)
    {
        var ids = demo.Gpt2Tokenizer.Encode(text, addSpecialTokens: true);

        Assert.Equal(text, demo.Gpt2Tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Encoding_MatchesTheLibrarysOwnTiktokenGpt2(string text)
    {
        var reference = TiktokenTokenizer.CreateForModel("gpt2");

        Assert.Equal(reference.EncodeToIds(text), demo.Gpt2Tokenizer.Encode(text, addSpecialTokens: false));
    }

    [Fact]
    public void SpecialTokens_ComeFromTokenizerConfig()
    {
        var tokenizer = demo.Gpt2Tokenizer;

        Assert.Equal("bpe", tokenizer.Kind);
        Assert.Equal(DemoTokenizerFiles.Gpt2VocabularySize, tokenizer.VocabularySize);
        Assert.Equal(DemoTokenizerFiles.Gpt2EndOfTextId, tokenizer.BosTokenId);
        Assert.Equal(DemoTokenizerFiles.Gpt2EndOfTextId, tokenizer.EosTokenId);
        Assert.Equal([DemoTokenizerFiles.Gpt2EndOfTextId], tokenizer.EosTokenIds);
        Assert.Null(tokenizer.ChatTemplate);
    }

    [Fact]
    public void EndOfTextInInput_IsOneSpecialToken_AndSkippedOnRequest()
    {
        var ids = demo.Gpt2Tokenizer.Encode("Hello<|endoftext|> world", addSpecialTokens: false);

        Assert.Equal([15496, DemoTokenizerFiles.Gpt2EndOfTextId, 995], ids);
        Assert.Equal("Hello<|endoftext|> world", demo.Gpt2Tokenizer.Decode(ids, skipSpecialTokens: false));
        Assert.Equal("Hello world", demo.Gpt2Tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void AddingSpecialTokens_AddsNothing_AsGpt2DoesNot()
    {
        Assert.Equal([15496, 995], demo.Gpt2Tokenizer.Encode("Hello world", addSpecialTokens: true));
    }

    [Fact]
    public void IdOutsideTheVocabulary_IsRejectedByName()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => demo.Gpt2Tokenizer.Decode([DemoTokenizerFiles.Gpt2VocabularySize], skipSpecialTokens: true));

        Assert.Contains("50257", error.Message, StringComparison.Ordinal);
    }
}
