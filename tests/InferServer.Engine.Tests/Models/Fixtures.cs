using System.Text.Json;

namespace InferServer.Engine.Tests.Models;

/// <summary>
/// What the Hugging Face reference fixtures expect (tests/fixtures/README.md gives the schema); where they are is
/// <see cref="ReferenceFixtures"/>.
/// </summary>
public static class Fixtures
{
    /// <summary>expected.json of a fixture model.</summary>
    public static JsonElement Expected(string model) =>
        JsonDocument.Parse(File.ReadAllText(ReferenceFixtures.File(model, "expected.json"))).RootElement;

    /// <summary>The token-id inputs of a fixture model.</summary>
    public static long[][] Inputs(string model) =>
        Expected(model).GetProperty("inputs").EnumerateArray().Select(i => i.EnumerateArray().Select(t => t.GetInt64()).ToArray()).ToArray();

    /// <summary>The expectations for the base model (adapter null) or one adapter.</summary>
    public static JsonElement Case(string model, string? adapter) =>
        adapter is null ? Expected(model).GetProperty("base") : Expected(model).GetProperty("adapters").GetProperty(adapter);

    /// <summary>A JSON array of numbers as doubles.</summary>
    public static double[] Numbers(JsonElement array) => array.EnumerateArray().Select(v => v.GetDouble()).ToArray();
}
