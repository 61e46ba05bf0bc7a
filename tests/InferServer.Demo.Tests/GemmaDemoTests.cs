using InferServer.Engine.Tests;
using InferServer.Demo;
using InferServer.Engine.Tokenization;

namespace InferServer.Demo.Tests;

/// <summary>
/// The gemma2 and gemma3 demos ship their family's real chat template, byte for byte the text the Jinja fixture tests render
/// against jinja2 (GemmaChatTemplateTests writes the difference out: Gemma 3 folds a system message in, Gemma 2 refuses it).
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class GemmaDemoTests(DemoModels demo)
{
    [Theory]
    [InlineData(DemoModelKind.Gemma2, "gemma-2-2b-it.jinja")]
    [InlineData(DemoModelKind.Gemma3, "gemma-3-4b-it.jinja")]
    public void GemmaDemo_ShipsItsFamilysChatTemplate_ByteForByte(DemoModelKind kind, string file)
    {
        var shipped = File.ReadAllText(RepositoryFiles.Path("tests", "InferServer.Jinja.Tests", "ChatTemplates", file));

        Assert.Equal(shipped, TokenizerLoader.Load(demo.Directory(kind)).ChatTemplate);
    }
}
