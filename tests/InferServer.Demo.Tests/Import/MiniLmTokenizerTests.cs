using InferServer.Engine.Tokenization;

namespace InferServer.Demo.Tests.Import;

/// <summary>The served tokenizer of the imported model against BERT-uncased WordPiece (<see cref="BertUncasedReferenceTokenizer"/>).</summary>
[Collection(MiniLmCollection.Name)]
public sealed class MiniLmTokenizerTests(MiniLmFixture fixture)
{
    public static TheoryData<string> Texts => new()
    {
        "Hello, world! How's it going?",
        "Well... (maybe) [not] {quite}; \"quoted\" & <tagged> -- dashes — and 'single' quotes.",
        "Crème brûlée, naïve façade, Ångström, São Paulo, Łódź, Ελληνικά.",
        "Prices rose 3.5% to $1,234.56 on 2024-09-22 at 10:30am; call +1 (555) 010-9999.",
        "unaffable supercalifragilisticexpialidocious xqzvbwj hyperparameterization",
        "MiXeD CaSe SHOUTING and\ttabs\nnewlines   spaces",
        "中文字符 and 日本語 mixed with English",
        "emoji 😀 and symbols © ™ ∑ ≠ → ★",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa long",
        "don't won't can't isn't y'all",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Tokenizer_MatchesBertUncasedWordPiece(string text)
    {
        var reference = new BertUncasedReferenceTokenizer(File.ReadAllLines(Path.Combine(fixture.Directory, "vocab.txt")));
        var served = TokenizerLoader.Load(fixture.Directory);
        Assert.Equal(reference.Encode(text), served.Encode(text, addSpecialTokens: true));
    }

    [Fact]
    public void Tokenizer_SplitsAKnownExampleAsBertDoes()
    {
        // transformers' docs: BertTokenizer("bert-base-uncased").tokenize("unaffable") == ["una", "##ffa", "##ble"].
        var served = TokenizerLoader.Load(fixture.Directory);
        var vocabulary = File.ReadAllLines(Path.Combine(fixture.Directory, "vocab.txt"));
        Assert.Equal(["[CLS]", "una", "##ffa", "##ble", "[SEP]"], served.Encode("UnAffable", addSpecialTokens: true).Select(id => vocabulary[id]));
    }
}
