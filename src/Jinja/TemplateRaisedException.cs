namespace InferServer.Jinja;

/// <summary>
/// The template called <c>raise_exception(message)</c>, the global Hugging Face transformers gives chat templates to
/// refuse a conversation they cannot format (roles not alternating, a system message the model has no place for).
/// <see cref="Exception.Message"/> is the template's message, unchanged.
/// </summary>
public sealed class TemplateRaisedException(string message, int line, int column) : TemplateException(message, line, column)
{
    public override string Problem => Message;
}
