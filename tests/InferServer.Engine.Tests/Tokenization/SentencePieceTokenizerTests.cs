using InferServer.Engine.Tokenization;

namespace InferServer.Engine.Tests.Tokenization;

/// <summary>A SentencePiece BPE model built offline by <see cref="SentencePieceModelWriter"/>, loaded as tokenizer.model.</summary>
public sealed class SentencePieceTokenizerTests : IDisposable
{
    internal static readonly string[] Pieces = ["▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "ll", "llo", "▁w", "or", "▁wor", "▁hello", "▁world"];

    private readonly TemporaryDirectory directory = new();
    private readonly TextTokenizer tokenizer;

    public SentencePieceTokenizerTests()
    {
        File.WriteAllBytes(Path.Combine(directory.Path, "tokenizer.model"), SentencePieceModelWriter.Build(Pieces));
        tokenizer = TokenizerLoader.Load(directory.Path);
    }

    public void Dispose() => directory.Dispose();

    [Fact]
    public void Model_ReportsLlamaStyleSpecialTokens()
    {
        Assert.Equal("sentencepiece", tokenizer.Kind);
        Assert.Equal(1, tokenizer.BosTokenId);
        Assert.Equal(2, tokenizer.EosTokenId);
        Assert.Equal(0, tokenizer.UnknownTokenId);
        Assert.Equal(3 + 256 + Pieces.Length, tokenizer.VocabularySize);
    }

    [Fact]
    public void AddingSpecialTokens_PrependsBosOnly_AsLlamaDefaults()
    {
        var ids = tokenizer.Encode("hello world", addSpecialTokens: true);

        Assert.Equal(1, ids[0]);
        Assert.DoesNotContain(2, ids);
        Assert.Equal(ids.Skip(1), tokenizer.Encode("hello world", addSpecialTokens: false));
    }

    [Theory]
    [InlineData("hello world")]
    [InlineData("héllo wörld 😀 日本")]
    [InlineData("hello  world")]
    public void Text_RoundTrips_ThroughByteFallback(string text)
    {
        var ids = tokenizer.Encode(text, addSpecialTokens: true);

        Assert.Equal(text, tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void NonAsciiText_UsesByteFallbackPieces()
    {
        // "é" is not a piece, so it must arrive as its two UTF-8 bytes <0xC3><0xA9> (ids 3 + byte value).
        var ids = tokenizer.Encode("é", addSpecialTokens: false);

        Assert.Contains(3 + 0xC3, ids);
        Assert.Contains(3 + 0xA9, ids);
    }

    [Fact]
    public void LeadingSpaceMarker_IsDroppedOnlyAtTheStartOfTheText()
    {
        var hello = tokenizer.TokenToId("▁hello")!.Value;
        var world = tokenizer.TokenToId("▁world")!.Value;

        Assert.Equal("hello world", tokenizer.Decode([hello, world], skipSpecialTokens: true));
        Assert.Equal("world", tokenizer.Decode([world], skipSpecialTokens: true));
        Assert.Equal("<s> hello world", tokenizer.Decode([1, hello, world], skipSpecialTokens: false));
    }
}
