using InferServer.Engine.Tokenization;

namespace InferServer.Engine.Tests.Tokenization;

public sealed class TokenizerLoaderErrorTests
{
    [Fact]
    public void DirectoryWithoutTokenizerFiles_IsRefusedNamingTheFilesLookedFor()
    {
        using var directory = new TemporaryDirectory();
        directory.Write("config.json", "{}");

        var error = Assert.Throws<UnsupportedTokenizerException>(() => TokenizerLoader.Load(directory.Path));

        Assert.Equal(directory.Path, error.Path);
        Assert.Equal("none", error.TokenizerType);
        Assert.Contains("tokenizer.model", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedTokenizerJson_IsAnInvalidFileErrorNamingIt()
    {
        using var directory = new TemporaryDirectory();
        var file = directory.Write("tokenizer.json", """{ "model": { "type": "BPE", "vocab": """);

        var error = Assert.Throws<InvalidTokenizerFileException>(() => TokenizerLoader.Load(directory.Path));

        Assert.Equal(file, error.Path);
        Assert.Contains("malformed JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TokenizerJsonWithWrongFieldTypes_IsAnInvalidFileError()
    {
        using var directory = new TemporaryDirectory();
        var file = directory.Write("tokenizer.json", """{ "model": { "type": "WordPiece", "vocab": { "a": "zero" } } }""");

        var error = Assert.Throws<InvalidTokenizerFileException>(() => TokenizerLoader.Load(directory.Path));

        Assert.Equal(file, error.Path);
    }

    [Theory]
    [InlineData("Unigram")]
    [InlineData("WordLevel")]
    public void UnsupportedModelType_IsRefusedNamingFileAndType(string type)
    {
        using var directory = new TemporaryDirectory();
        var file = directory.Write("tokenizer.json", $$"""{ "model": { "type": "{{type}}", "vocab": [] } }""");

        var error = Assert.Throws<UnsupportedTokenizerException>(() => TokenizerLoader.Load(directory.Path));

        Assert.Equal(file, error.Path);
        Assert.Equal(type, error.TokenizerType);
        Assert.Contains("tokenizer.json", error.Message, StringComparison.Ordinal);
        Assert.Contains(type, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ByteFallbackBpeWithoutTokenizerModel_IsRefusedRatherThanHalfWorking()
    {
        using var directory = new TemporaryDirectory();
        directory.Write("tokenizer.json", """
            { "model": { "type": "BPE", "byte_fallback": true, "vocab": { "a": 0 }, "merges": [] },
              "decoder": { "type": "Sequence", "decoders": [ { "type": "ByteFallback" } ] } }
            """);

        var error = Assert.Throws<UnsupportedTokenizerException>(() => TokenizerLoader.Load(directory.Path));

        Assert.Contains("byte fallback", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ByteFallbackBpe_DefersToTokenizerModelWhenPresent()
    {
        using var directory = new TemporaryDirectory();
        directory.Write("tokenizer.json", """{ "model": { "type": "BPE", "byte_fallback": true, "vocab": { "a": 0 }, "merges": [] } }""");
        File.WriteAllBytes(Path.Combine(directory.Path, "tokenizer.model"), SentencePieceModelWriter.Build(["▁", "a"]));

        Assert.Equal("sentencepiece", TokenizerLoader.Load(directory.Path).Kind);
    }

    [Fact]
    public void CorruptSentencePieceModel_IsAnInvalidFileError()
    {
        using var directory = new TemporaryDirectory();
        File.WriteAllBytes(Path.Combine(directory.Path, "tokenizer.model"), [0xFF, 0xFF, 0xFF, 0x01, 0x02]);

        var error = Assert.Throws<InvalidTokenizerFileException>(() => TokenizerLoader.Load(directory.Path));

        Assert.EndsWith("tokenizer.model", error.Path, StringComparison.Ordinal);
    }
}
