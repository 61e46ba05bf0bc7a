namespace InferServer.Jinja;

/// <summary>Rendering failed: an undefined attribute, a type error, a limit reached (jinja2's UndefinedError,
/// TypeError, SecurityError…).</summary>
public sealed class TemplateRuntimeException(string problem, int line, int column)
    : TemplateException($"line {line}, column {column}: {problem}", line, column)
{
    public override string Problem { get; } = problem;
}
