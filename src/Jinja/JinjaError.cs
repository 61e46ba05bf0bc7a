namespace InferServer.Jinja;

/// <summary>A runtime failure raised by value operations, which do not know where in the template they run; the
/// renderer turns it into a <see cref="TemplateRuntimeException"/> at the expression that caused it.</summary>
internal sealed class JinjaError(string message) : Exception(message);

/// <summary>raise_exception was called; the renderer adds the location.</summary>
internal sealed class RaisedByTemplate(string message) : Exception(message);
