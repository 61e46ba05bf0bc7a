namespace InferServer.Jinja;

/// <summary>
/// A parsed template in the Jinja subset Hugging Face chat templates use, rendered with jinja2's semantics in the
/// environment transformers' apply_chat_template builds: trim_blocks and lstrip_blocks on, the loopcontrols extension
/// (break, continue), the immutable sandbox (no list.append and the like), default Undefined, and the globals
/// raise_exception and strftime_now. Parse once (<see cref="JinjaTemplateCache"/>) and render many times; a parsed
/// template is immutable and may be rendered from several threads at once.
/// </summary>
public sealed class JinjaTemplate
{
    private readonly SourceText source;
    private readonly IReadOnlyList<Stmt> body;

    private JinjaTemplate(SourceText source, IReadOnlyList<Stmt> body)
    {
        this.source = source;
        this.body = body;
    }

    /// <summary>Parses <paramref name="source"/>; a <see cref="TemplateSyntaxException"/> names the line and column.</summary>
    public static JinjaTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var text = new SourceText(source);
        return new JinjaTemplate(text, Parser.Parse(text));
    }

    /// <summary>
    /// Renders with <paramref name="variables"/> (strings, booleans, numbers, null, lists and dictionaries of them, or
    /// JsonElements). Throws <see cref="TemplateRaisedException"/> when the template calls raise_exception and
    /// <see cref="TemplateRuntimeException"/> for any other failure, a limit of <paramref name="options"/> included.
    /// </summary>
    public string Render(IReadOnlyDictionary<string, object?> variables, JinjaRenderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(variables);
        options ??= JinjaRenderOptions.Default;
        var globals = new Scope(null);
        foreach (var (name, value) in Globals.Create(options))
        {
            globals.Set(name, value);
        }

        var context = new Scope(globals);
        foreach (var (name, value) in variables)
        {
            context.Set(name, JinjaValues.From(value));
        }

        return new Renderer(source, new RenderBudget(options)).Render(body, context);
    }
}
