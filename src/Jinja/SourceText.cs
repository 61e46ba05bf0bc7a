namespace InferServer.Jinja;

/// <summary>
/// Template source as jinja2's lexer sees it: newlines normalized to \n and one trailing newline dropped
/// (keep_trailing_newline=False, the default that transformers keeps). Maps offsets to 1-based line and column.
/// </summary>
internal sealed class SourceText
{
    private readonly List<int> lineStarts = [0];

    public SourceText(string source)
    {
        var text = source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        if (text.EndsWith('\n'))
        {
            text = text[..^1];
        }

        Text = text;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                lineStarts.Add(i + 1);
            }
        }
    }

    public string Text { get; }

    public (int Line, int Column) Locate(int offset)
    {
        var index = lineStarts.BinarySearch(offset);
        var line = index >= 0 ? index : ~index - 1;
        return (line + 1, offset - lineStarts[line] + 1);
    }
}
