using System.Globalization;
using System.Text;

namespace InferServer.Jinja;

/// <summary>
/// Splits template source into tokens the way jinja2's lexer does with trim_blocks=True and lstrip_blocks=True (the
/// environment Hugging Face transformers compiles chat templates in): "-" on a tag strips all whitespace on that side;
/// a block or comment tag removes the one newline after it; a block or comment tag preceded on its line only by
/// spaces and tabs removes them; "+" turns either off. {% raw %} bodies are passed through as text.
/// </summary>
internal sealed class Lexer
{
    private static readonly string[] Operators =
    [
        "//", "**", "==", "!=", "<=", ">=",
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";",
    ];

    private readonly SourceText source;
    private readonly string text;
    private readonly List<Token> tokens = [];
    private int position;

    private Lexer(SourceText source)
    {
        this.source = source;
        text = source.Text;
    }

    public static List<Token> Tokenize(SourceText source)
    {
        var lexer = new Lexer(source);
        lexer.Run();
        return lexer.tokens;
    }

    private void Run()
    {
        while (position < text.Length)
        {
            var tagStart = NextTagStart(position);
            if (tagStart < 0)
            {
                AddText(text[position..], position);
                break;
            }
            var data = text[position..tagStart];
            var opener = text[tagStart + 1];
            var sign = tagStart + 2 < text.Length && text[tagStart + 2] is '-' or '+' ? text[tagStart + 2] : '\0';
            if (sign == '-')
            {
                data = data.TrimEnd();
            }
            else if (sign != '+' && opener != '{')
            {
                // lstrip_blocks: drop the spaces and tabs between the line's start and a block or comment tag.
                var lineStart = data.LastIndexOf('\n') + 1;
                var atLineStart = lineStart > 0 || position == 0 || text[position - 1] == '\n';
                if (atLineStart && lineStart < data.Length && data.AsSpan(lineStart).IndexOfAnyExcept(" \t\f\v\r") < 0)
                {
                    data = data[..lineStart];
                }
            }
            AddText(data, position);
            var afterOpener = tagStart + 2 + (sign == '\0' ? 0 : 1);
            switch (opener)
            {
                case '#':
                    SkipComment(tagStart, afterOpener);
                    break;
                case '{':
                    tokens.Add(new Token(TokenKind.VariableBegin, "{{", tagStart));
                    position = afterOpener;
                    LexInside(isBlock: false, tagStart);
                    break;
                default:
                    if (TryRaw(tagStart, afterOpener))
                    {
                        break;
                    }

                    tokens.Add(new Token(TokenKind.BlockBegin, "{%", tagStart));
                    position = afterOpener;
                    LexInside(isBlock: true, tagStart);
                    break;
            }
        }
        tokens.Add(new Token(TokenKind.EndOfSource, "", text.Length));
    }

    private int NextTagStart(int from)
    {
        var index = from;
        while (true)
        {
            index = text.IndexOf('{', index);
            if (index < 0 || index + 1 >= text.Length)
            {
                return -1;
            }

            if (text[index + 1] is '{' or '%' or '#')
            {
                return index;
            }

            index++;
        }
    }

    private void AddText(string data, int offset)
    {
        if (data.Length > 0)
        {
            tokens.Add(new Token(TokenKind.Text, data, offset));
        }
    }

    private void SkipComment(int tagStart, int from)
    {
        var end = text.IndexOf("#}", from, StringComparison.Ordinal);
        if (end < 0)
        {
            throw Error("missing end of comment tag", tagStart);
        }

        var sign = end > from && text[end - 1] is '-' or '+' ? text[end - 1] : '\0';
        position = end + 2;
        AfterBlockEnd(sign);
    }

    // Whitespace control after a block or comment end: "-" strips all whitespace, "+" nothing, else trim_blocks
    // removes a single newline.
    private void AfterBlockEnd(char sign)
    {
        if (sign == '-')
        {
            SkipWhitespace();
        }
        else if (sign != '+' && position < text.Length && text[position] == '\n')
        {
            position++;
        }
    }

    private void SkipWhitespace()
    {
        while (position < text.Length && char.IsWhiteSpace(text[position]))
        {
            position++;
        }
    }

    // {% raw %} ... {% endraw %}: the body is text, tags and all.
    private bool TryRaw(int tagStart, int from)
    {
        var index = from;
        while (index < text.Length && char.IsWhiteSpace(text[index]))
        {
            index++;
        }

        if (!text.AsSpan(index).StartsWith("raw", StringComparison.Ordinal))
        {
            return false;
        }

        index += 3;
        while (index < text.Length && char.IsWhiteSpace(text[index]))
        {
            index++;
        }

        var sign = index < text.Length && text[index] is '-' or '+' ? text[index] : '\0';
        if (sign != '\0')
        {
            index++;
        }

        if (!text.AsSpan(index).StartsWith("%}", StringComparison.Ordinal))
        {
            return false;
        }

        position = index + 2;
        AfterBlockEnd(sign);
        var bodyStart = position;
        var search = position;
        while (true)
        {
            var candidate = text.IndexOf("{%", search, StringComparison.Ordinal);
            if (candidate < 0)
            {
                throw Error("missing {% endraw %} for this {% raw %}", tagStart);
            }

            var cursor = candidate + 2;
            var openSign = cursor < text.Length && text[cursor] is '-' or '+' ? text[cursor] : '\0';
            if (openSign != '\0')
            {
                cursor++;
            }

            while (cursor < text.Length && char.IsWhiteSpace(text[cursor]))
            {
                cursor++;
            }

            if (text.AsSpan(cursor).StartsWith("endraw", StringComparison.Ordinal))
            {
                cursor += 6;
                while (cursor < text.Length && char.IsWhiteSpace(text[cursor]))
                {
                    cursor++;
                }

                var closeSign = cursor < text.Length && text[cursor] is '-' or '+' ? text[cursor] : '\0';
                if (closeSign != '\0')
                {
                    cursor++;
                }

                if (text.AsSpan(cursor).StartsWith("%}", StringComparison.Ordinal))
                {
                    var body = text[bodyStart..candidate];
                    if (openSign == '-')
                    {
                        body = body.TrimEnd();
                    }

                    AddText(body, bodyStart);
                    position = cursor + 2;
                    AfterBlockEnd(closeSign);
                    return true;
                }
            }
            search = candidate + 2;
        }
    }

    private void LexInside(bool isBlock, int tagStart)
    {
        var depth = 0;
        while (true)
        {
            while (position < text.Length && char.IsWhiteSpace(text[position]))
            {
                position++;
            }

            if (position >= text.Length)
            {
                throw Error(isBlock ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'", tagStart);
            }

            if (depth == 0 && TryTagEnd(isBlock))
            {
                return;
            }

            var c = text[position];
            if (char.IsLetter(c) || c == '_')
            {
                var start = position;
                while (position < text.Length && (char.IsLetterOrDigit(text[position]) || text[position] == '_'))
                {
                    position++;
                }

                tokens.Add(new Token(TokenKind.Name, text[start..position], start));
            }
            else if (char.IsAsciiDigit(c))
            {
                LexNumber();
            }
            else if (c is '\'' or '"')
            {
                LexString();
            }
            else
            {
                var op = Operators.FirstOrDefault(candidate => text.AsSpan(position).StartsWith(candidate, StringComparison.Ordinal))
                    ?? throw Error($"unexpected char '{c}'", position);
                if (op is "(" or "[" or "{")
                {
                    depth++;
                }
                else if (op is ")" or "]" or "}")
                {
                    depth = Math.Max(0, depth - 1);
                }

                tokens.Add(new Token(TokenKind.Operator, op, position));
                position += op.Length;
            }
        }
    }

    private bool TryTagEnd(bool isBlock)
    {
        var span = text.AsSpan(position);
        var close = isBlock ? "%}" : "}}";
        var sign = span.Length > 2 && span[0] is '-' or '+' && span[1..].StartsWith(close, StringComparison.Ordinal) ? span[0] : '\0';
        if (sign == '\0' && !span.StartsWith(close, StringComparison.Ordinal))
        {
            return false;
        }
        // "-" followed by the closer is whitespace control, never a minus: jinja2 reads "{{ x -}}" that way too.
        if (sign == '+' && !isBlock)
        {
            return false;
        }

        tokens.Add(new Token(isBlock ? TokenKind.BlockEnd : TokenKind.VariableEnd, close, position));
        position += close.Length + (sign == '\0' ? 0 : 1);
        if (isBlock)
        {
            AfterBlockEnd(sign);
        }
        else if (sign == '-')
        {
            SkipWhitespace();
        }

        return true;
    }

    private void LexNumber()
    {
        var start = position;
        SkipDigits();
        var isFloat = false;
        if (position + 1 < text.Length && text[position] == '.' && char.IsAsciiDigit(text[position + 1]))
        {
            isFloat = true;
            position++;
            SkipDigits();
        }
        if (position < text.Length && text[position] is 'e' or 'E')
        {
            var exponent = position + 1;
            if (exponent < text.Length && text[exponent] is '+' or '-')
            {
                exponent++;
            }

            if (exponent < text.Length && char.IsAsciiDigit(text[exponent]))
            {
                isFloat = true;
                position = exponent;
                SkipDigits();
            }
        }
        var literal = text[start..position].Replace("_", "", StringComparison.Ordinal);
        tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, literal, start));
    }

    private void SkipDigits()
    {
        while (position < text.Length && (char.IsAsciiDigit(text[position]) || (text[position] == '_' && position + 1 < text.Length && char.IsAsciiDigit(text[position + 1]))))
        {
            position++;
        }
    }

    // jinja2 decodes string literals with Python's unicode-escape codec: \n \t \\ \' \" \xhh \uhhhh \Uhhhhhhhh
    // and octal escapes; an unknown escape keeps its backslash.
    private void LexString()
    {
        var start = position;
        var quote = text[position++];
        var value = new StringBuilder();
        while (true)
        {
            if (position >= text.Length)
            {
                throw Error("unexpected end of string", start);
            }

            var c = text[position++];
            if (c == quote)
            {
                break;
            }

            if (c != '\\')
            {
                value.Append(c);
                continue;
            }
            if (position >= text.Length)
            {
                throw Error("unexpected end of string", start);
            }

            var escape = text[position++];
            switch (escape)
            {
                case '\n': break;
                case '\\': value.Append('\\'); break;
                case '\'': value.Append('\''); break;
                case '"': value.Append('"'); break;
                case 'a': value.Append('\a'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'n': value.Append('\n'); break;
                case 'r': value.Append('\r'); break;
                case 't': value.Append('\t'); break;
                case 'v': value.Append('\v'); break;
                case 'x': AppendCodePoint(value, HexEscape(2, start), start); break;
                case 'u': AppendCodePoint(value, HexEscape(4, start), start); break;
                case 'U': AppendCodePoint(value, HexEscape(8, start), start); break;
                case >= '0' and <= '7':
                    var code = escape - '0';
                    for (var i = 0; i < 2 && position < text.Length && text[position] is >= '0' and <= '7'; i++)
                    {
                        code = code * 8 + (text[position++] - '0');
                    }

                    AppendCodePoint(value, code, start);
                    break;
                default:
                    value.Append('\\').Append(escape);
                    break;
            }
        }
        tokens.Add(new Token(TokenKind.String, value.ToString(), start));
    }

    private int HexEscape(int digits, int start)
    {
        if (position + digits > text.Length
            || !int.TryParse(text.AsSpan(position, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
        {
            throw Error("truncated \\x, \\u or \\U escape in a string", start);
        }

        position += digits;
        return code;
    }

    private TemplateSyntaxException Error(string problem, int offset)
    {
        var (line, column) = source.Locate(offset);
        return new TemplateSyntaxException(problem, line, column);
    }

    private void AppendCodePoint(StringBuilder value, int code, int start)
    {
        if (code is < 0 or > 0x10FFFF)
        {
            throw Error("escape out of the Unicode range in a string", start);
        }

        value.Append(char.ConvertFromUtf32(code is >= 0xD800 and <= 0xDFFF ? 0xFFFD : code));
    }
}
