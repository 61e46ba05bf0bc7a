namespace InferServer.Jinja;

/// <summary>The template source is not valid in the supported Jinja subset (jinja2's TemplateSyntaxError, and its
/// compile-time checks such as an unknown filter).</summary>
public sealed class TemplateSyntaxException(string problem, int line, int column)
    : TemplateException($"line {line}, column {column}: {problem}", line, column)
{
    public override string Problem { get; } = problem;
}
