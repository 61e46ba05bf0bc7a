using InferServer.Demo;
using InferServer.Engine.Models.Loading;

namespace InferServer.Demo.Tests;

/// <summary>
/// README's "Architectures at a glance" table names every architecture the loader serves, and README and make-demo's usage
/// name every demo kind, so that a new family cannot ship undocumented.
/// </summary>
public sealed class ReadmeModelTableTests
{
    private static readonly string Readme = File.ReadAllText(RepositoryFiles.Path("README.md"));

    private static string Table
    {
        get
        {
            var start = Readme.IndexOf("### Architectures at a glance", StringComparison.Ordinal);
            Assert.True(start >= 0, "README has no \"Architectures at a glance\" section");
            var end = Readme.IndexOf("\n\n", Readme.IndexOf("| `", start, StringComparison.Ordinal), StringComparison.Ordinal);
            return Readme[start..end];
        }
    }

    public static TheoryData<string> Architectures => [.. ModelLoader.SupportedArchitectures];

    public static TheoryData<string> Kinds => [.. DemoModelGenerator.Kinds.Select(DemoModelGenerator.DirectoryName)];

    [Theory]
    [MemberData(nameof(Architectures))]
    public void EverySupportedArchitecture_IsARowOfTheReadmeTable(string architecture)
    {
        Assert.Contains($"`{architecture}`", Table);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryDemoKind_IsInTheReadmeTable_AndInMakeDemosUsage(string kind)
    {
        Assert.Contains($"`{kind}`", Table);
        Assert.Contains($"|{kind}|", MakeDemoCommand.Usage.Replace("[--kind ", "|", StringComparison.Ordinal));
    }
}
