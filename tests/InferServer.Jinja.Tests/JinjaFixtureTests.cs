using System.Text.Json;

namespace InferServer.Jinja.Tests;

/// <summary>
/// The interpreter against the real jinja2: every real chat template over every fixture conversation, and every
/// one-construct template, renders byte for byte what jinja2 rendered, or fails where jinja2 failed (a template's
/// raise_exception with its own message).
/// </summary>
public sealed class JinjaFixtureTests
{
    public static TheoryData<string> CaseIds => [.. ChatTemplateFixtures.Cases.Select(ChatTemplateFixtures.CaseId)];

    public static TheoryData<string> ConstructNames => [.. ChatTemplateFixtures.Constructs.Select(construct => construct.GetProperty("name").GetString()!)];

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void RealChatTemplate_RendersWhatJinja2Renders(string id)
    {
        var fixtureCase = ChatTemplateFixtures.Case(id);
        var template = JinjaTemplate.Parse(ChatTemplateFixtures.Template(fixtureCase.GetProperty("template").GetString()!));
        AssertRendersLikeJinja2(template, fixtureCase);
    }

    [Theory]
    [MemberData(nameof(ConstructNames))]
    public void Construct_RendersWhatJinja2Renders(string name)
    {
        var construct = ChatTemplateFixtures.Construct(name);
        var template = JinjaTemplate.Parse(construct.GetProperty("template").GetString()!);
        AssertRendersLikeJinja2(template, construct);
    }

    [Fact]
    public void Fixtures_CoverEveryShippedRealTemplate_AndARefusedConversation()
    {
        // Every template shipped in ChatTemplates/ is in the fixtures, and every one is rendered by at least one case.
        var shipped = Directory.GetFiles(RepositoryFiles.Path("tests", "InferServer.Jinja.Tests", "ChatTemplates"), "*.jinja")
            .Select(Path.GetFileNameWithoutExtension).Order().ToList();
        var names = ChatTemplateFixtures.Templates.Select(template => template.GetProperty("name").GetString()).Order().ToList();
        Assert.Equal(12, shipped.Count);
        Assert.Equal(shipped, names);
        Assert.All(names, name => Assert.Contains(ChatTemplateFixtures.Cases, fixtureCase => fixtureCase.GetProperty("template").GetString() == name));
        Assert.Contains(ChatTemplateFixtures.Cases, fixtureCase => fixtureCase.TryGetProperty("error", out var error) && error.GetString() == "raised");
    }

    private static void AssertRendersLikeJinja2(JinjaTemplate template, JsonElement fixture)
    {
        var variables = ChatTemplateFixtures.Variables(fixture);
        if (fixture.TryGetProperty("expected", out var expected))
        {
            Assert.Equal(expected.GetString(), template.Render(variables));
            return;
        }
        var kind = fixture.GetProperty("error").GetString();
        var message = fixture.GetProperty("message").GetString()!;
        if (kind == "raised")
        {
            var raised = Assert.Throws<TemplateRaisedException>(() => template.Render(variables));
            Assert.Equal(message, raised.Message);
        }
        else
        {
            var failure = Assert.Throws<TemplateRuntimeException>(() => template.Render(variables));
            Assert.False(string.IsNullOrEmpty(failure.Problem), $"jinja2 said: {kind}: {message}");
        }
    }
}
