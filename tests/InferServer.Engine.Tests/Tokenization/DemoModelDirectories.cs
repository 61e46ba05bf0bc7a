using InferServer.Demo;
using InferServer.Engine.Tokenization;

namespace InferServer.Engine.Tests.Tokenization;

/// <summary>Demo tokenizer files written once per test run into temporary directories (GPT-2's files are ~1.5 MB).</summary>
public sealed class DemoModelDirectories : IDisposable
{
    private readonly TemporaryDirectory root = new();

    public DemoModelDirectories()
    {
        Gpt2 = root.File("gpt2");
        Bert = root.File("bert");
        DemoTokenizerFiles.Write(Gpt2);
        DemoTokenizerFiles.WriteBert(Bert);
        Gpt2Tokenizer = TokenizerLoader.Load(Gpt2);
        BertTokenizer = TokenizerLoader.Load(Bert);
    }

    public string Gpt2 { get; }
    public string Bert { get; }
    public TextTokenizer Gpt2Tokenizer { get; }
    public TextTokenizer BertTokenizer { get; }

    public void Dispose() => root.Dispose();
}

[CollectionDefinition(Name)]
public sealed class DemoModelCollection : ICollectionFixture<DemoModelDirectories>
{
    public const string Name = "Demo tokenizer files";
}
