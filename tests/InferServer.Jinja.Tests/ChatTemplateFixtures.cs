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

    /// <summary>Variables every case has; any other is a template keyword argument (Qwen3's enable_thinking) and part of the id.</summary>
    private static readonly string[] StandardVariables = ["messages", "tools", "documents", "add_generation_prompt", "bos_token", "eos_token"];

    /// <summary>A case's id: "template / conversation / add_generation_prompt", then " / name=value" per template keyword argument.</summary>
    public static string CaseId(JsonElement fixtureCase) =>
        $"{fixtureCase.GetProperty("template").GetString()} / {fixtureCase.GetProperty("conversation").GetString()} / "
        + $"{fixtureCase.GetProperty("variables").GetProperty("add_generation_prompt").GetBoolean()}"
        + string.Concat(fixtureCase.GetProperty("variables").EnumerateObject()
            .Where(variable => !StandardVariables.Contains(variable.Name))
            .Select(variable => $" / {variable.Name}={variable.Value.GetRawText()}"));

    public static JsonElement Case(string id) => Cases.Single(fixtureCase => CaseId(fixtureCase) == id);

    public static JsonElement Construct(string name) => Constructs.Single(construct => construct.GetProperty("name").GetString() == name);

    public static Dictionary<string, object?> Variables(JsonElement fixtureCase) =>
        fixtureCase.GetProperty("variables").EnumerateObject().ToDictionary(property => property.Name, property => (object?)property.Value.Clone());
}
