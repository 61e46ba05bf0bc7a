using System.Text.Json;

namespace InferServer.Server.Tests.Models;

/// <summary>The Hugging Face reference fixtures copied to the test output (tests/fixtures/README.md gives the schema).</summary>
public static class Fixtures
{
    /// <summary>Directory holding the fixture models.</summary>
    public static string Root => Path.Combine(AppContext.BaseDirectory, "fixtures");

    /// <summary>A fixture model's base directory.</summary>
    public static string BaseDirectory(string model) => Path.Combine(Root, model, "base");

    /// <summary>A fixture adapter's directory.</summary>
    public static string AdapterDirectory(string model, string adapter) => Path.Combine(Root, model, "adapters", adapter);

    /// <summary>expected.json of a fixture model.</summary>
    public static JsonElement Expected(string model) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, model, "expected.json"))).RootElement;

    /// <summary>The token-id inputs of a fixture model.</summary>
    public static long[][] Inputs(string model) =>
        Expected(model).GetProperty("inputs").EnumerateArray().Select(i => i.EnumerateArray().Select(t => t.GetInt64()).ToArray()).ToArray();

    /// <summary>The expectations for the base model (adapter null) or one adapter.</summary>
    public static JsonElement Case(string model, string? adapter) =>
        adapter is null ? Expected(model).GetProperty("base") : Expected(model).GetProperty("adapters").GetProperty(adapter);

    /// <summary>A JSON array of numbers as doubles.</summary>
    public static double[] Numbers(JsonElement array) => array.EnumerateArray().Select(v => v.GetDouble()).ToArray();
}
