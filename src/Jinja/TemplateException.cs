namespace InferServer.Jinja;

/// <summary>A template that cannot be parsed or rendered, with the 1-based line and column where the problem was found.</summary>
public abstract class TemplateException : Exception
{
    private protected TemplateException(string message, int line, int column)
        : base(message)
    {
        Line = line;
        Column = column;
    }

    /// <summary>1-based line of the template source.</summary>
    public int Line { get; }

    /// <summary>1-based column of the template source.</summary>
    public int Column { get; }

    /// <summary>The problem without its location.</summary>
    public abstract string Problem { get; }
}
