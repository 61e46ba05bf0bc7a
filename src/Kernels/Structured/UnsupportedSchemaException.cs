namespace InferServer.Kernels.Structured;

/// <summary>A JSON Schema the constrained decoder cannot enforce exactly: an unsupported keyword (named with its JSON
/// pointer, e.g. <c>pattern</c> at <c>#/properties/zip</c>), an unsatisfiable combination, or a schema over the caps of
/// <see cref="StructuredLimits"/>. Never ignored: a client whose schema cannot be enforced gets this, not unchecked output.</summary>
public sealed class UnsupportedSchemaException(string path, string keyword, string problem)
    : Exception($"'{keyword}' at {path}: {problem}")
{
    /// <summary>JSON pointer of the schema object holding the keyword ("#" for the root).</summary>
    public string Path { get; } = path;

    /// <summary>The keyword refused.</summary>
    public string Keyword { get; } = keyword;

    /// <summary>Why.</summary>
    public string Problem { get; } = problem;
}
