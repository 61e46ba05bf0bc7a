namespace InferServer.TestSupport;

/// <summary>
/// Where the Hugging Face reference fixtures (tests/fixtures, schema in its README.md) are found: every test project
/// links the one tree into its output as <c>fixtures/</c>, so no copy is kept twice.
/// </summary>
public static class ReferenceFixtures
{
    /// <summary>Directory holding the fixture models.</summary>
    public static string Root => Path.Combine(AppContext.BaseDirectory, "fixtures");

    /// <summary>A path under the fixtures root.</summary>
    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>A fixture model's base directory.</summary>
    public static string BaseDirectory(string model) => Path.Combine(Root, model, "base");

    /// <summary>A fixture adapter's directory.</summary>
    public static string AdapterDirectory(string model, string adapter) => Path.Combine(Root, model, "adapters", adapter);
}
