using System.Text.Json;

namespace InferServer.Jinja.Tests;

/// <summary>chat_template_fixtures.json: what jinja2, configured as transformers configures it, rendered for real
/// chat templates over several conversations and for one-construct templates (make_chat_template_fixtures.py).</summary>
public static class ChatTemplateFixtures
{
    private static readonly Lazy<JsonElement> Root = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "chat_template_fixtures.json"))).RootElement);

    public static IEnumerable<JsonElement> Templates => Root.Value.GetProperty("templates").EnumerateArray();

    public static IEnumerable<JsonElement> Cases => Root.Value.GetProperty("cases").EnumerateArray();

    public static IEnumerable<JsonElement> Constructs => Root.Value.GetProperty("constructs").EnumerateArray();

    public static string Template(string name) =>
        Templates.Single(template => template.GetProperty("name").GetString() == name).GetProperty("template").GetString()!;

    /// <summary>A case's id: "template / conversation / add_generation_prompt".</summary>
    public static string CaseId(JsonElement fixtureCase) =>
        $"{fixtureCase.GetProperty("template").GetString()} / {fixtureCase.GetProperty("conversation").GetString()} / "
        + $"{fixtureCase.GetProperty("variables").GetProperty("add_generation_prompt").GetBoolean()}";

    public static JsonElement Case(string id) => Cases.Single(fixtureCase => CaseId(fixtureCase) == id);

    public static JsonElement Construct(string name) => Constructs.Single(construct => construct.GetProperty("name").GetString() == name);

    public static Dictionary<string, object?> Variables(JsonElement fixtureCase) =>
        fixtureCase.GetProperty("variables").EnumerateObject().ToDictionary(property => property.Name, property => (object?)property.Value.Clone());
}
