using System.Globalization;
using System.Runtime.CompilerServices;

namespace InferServer.Jinja;

/// <summary>
/// Recursive descent over the lexer's tokens, following jinja2's grammar and operator precedence (lowest first):
/// conditional, or, and, not, comparisons and "in", + -, ~, * / // %, **, unary - +, then postfix (attribute,
/// subscript, call), filters "|" and tests "is". Unknown tags, filters and tests are syntax errors, as jinja2 reports
/// them at compile time.
/// </summary>
internal sealed class Parser
{
    // Deeper nesting than this is refused rather than risking the stack on a hostile template.
    private const int MaxNesting = 200;

    private static readonly HashSet<string> CompareOperators = ["==", "!=", "<", ">", "<=", ">="];

    private readonly SourceText source;
    private readonly List<Token> tokens;
    private int index;
    private int nesting;
    private int loopDepth;

    private Parser(SourceText source, List<Token> tokens)
    {
        this.source = source;
        this.tokens = tokens;
    }

    public static IReadOnlyList<Stmt> Parse(SourceText source)
    {
        var parser = new Parser(source, Lexer.Tokenize(source));
        var body = parser.ParseBody([]);
        if (parser.Current.Kind != TokenKind.EndOfSource)
        {
            throw parser.Error($"unexpected {parser.Current.Describe()}", parser.Current);
        }

        return body;
    }

    private Token Current => tokens[index];

    private Token Peek(int ahead = 1) => tokens[Math.Min(index + ahead, tokens.Count - 1)];

    private Token Next() => tokens[index++];

    private TemplateSyntaxException Error(string problem, Token at)
    {
        var (line, column) = source.Locate(at.Offset);
        return new TemplateSyntaxException(problem, line, column);
    }

    private Token Expect(TokenKind kind, string? value = null)
    {
        var token = Current;
        if (token.Kind != kind || (value is not null && token.Value != value))
        {
            var expected = value is not null ? $"'{value}'" : kind switch
            {
                TokenKind.Name => "a name",
                TokenKind.BlockEnd => "end of statement block",
                TokenKind.VariableEnd => "end of print statement",
                _ => kind.ToString(),
            };
            throw Error($"expected {expected}, got {token.Describe()}", token);
        }
        index++;
        return token;
    }

    private bool SkipIf(TokenKind kind, string value)
    {
        if (!Current.Is(kind, value))
        {
            return false;
        }

        index++;
        return true;
    }

    // Statements until a block tag named in endTags (left unconsumed, at its name) or the end of the template.
    private List<Stmt> ParseBody(string[] endTags)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.EndOfSource:
                    if (endTags.Length > 0)
                    {
                        throw Error($"unexpected end of template; jinja was looking for {string.Join(" or ", endTags.Select(tag => $"'{tag}'"))}", token);
                    }

                    return body;
                case TokenKind.Text:
                    index++;
                    body.Add(new TextStmt(token.Value, token.Offset));
                    break;
                case TokenKind.VariableBegin:
                    index++;
                    var value = ParseTuple(withConditional: true, allowEmpty: false);
                    Expect(TokenKind.VariableEnd);
                    body.Add(new OutputStmt(value, token.Offset));
                    break;
                case TokenKind.BlockBegin:
                    var name = Peek();
                    if (name.Kind == TokenKind.Name && endTags.Contains(name.Value))
                    {
                        index++;
                        return body;
                    }
                    index++;
                    body.Add(ParseStatement(token));
                    break;
                default:
                    throw Error($"unexpected {token.Describe()}", token);
            }
        }
    }

    private Stmt ParseStatement(Token begin)
    {
        var name = Expect(TokenKind.Name);
        using (Enter(name))
        {
            return name.Value switch
            {
                "if" => ParseIf(begin),
                "for" => ParseFor(begin),
                "set" => ParseSet(begin),
                "macro" => ParseMacro(begin),
                "call" => ParseCallBlock(begin),
                "filter" => ParseFilterBlock(begin),
                "with" => ParseWith(begin),
                "generation" => ParseScope(begin, "endgeneration"),
                "break" or "continue" when loopDepth == 0 => throw Error($"'{name.Value}' outside of a for loop", name),
                "break" => Simple(new BreakStmt(begin.Offset)),
                "continue" => Simple(new ContinueStmt(begin.Offset)),
                "include" or "import" or "from" or "extends" or "block" or "autoescape" or "do" =>
                    throw Error($"the '{name.Value}' tag is not supported by this server's Jinja subset", name),
                _ => throw Error($"encountered unknown tag '{name.Value}'", name),
            };
        }
    }

    // x.0, x.1: an index written as an attribute. Too large for a 64-bit index, it cannot name an item.
    private long IntegerAttribute(Token attribute) =>
        long.TryParse(attribute.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            ? index
            : throw Error($"the index {attribute.Value} is out of range", attribute);

    /// <summary>One level deeper; dispose the result to come back up (<c>using (Enter(token)) { ... }</c>).</summary>
    private NestingLevel Enter(Token at)
    {
        if (++nesting > MaxNesting || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            nesting--;
            throw Error($"the template nests deeper than {MaxNesting} levels", at);
        }
        return new NestingLevel(this);
    }

    private readonly struct NestingLevel(Parser parser) : IDisposable
    {
        public void Dispose() => parser.nesting--;
    }

    private Stmt Simple(Stmt statement)
    {
        Expect(TokenKind.BlockEnd);
        return statement;
    }

    // After an end tag's name: the rest of the tag.
    private void EndTag(string name)
    {
        Expect(TokenKind.Name, name);
        Expect(TokenKind.BlockEnd);
    }

    private IfStmt ParseIf(Token begin)
    {
        var branches = new List<(Expr, IReadOnlyList<Stmt>)>();
        var test = ParseTuple(withConditional: false, allowEmpty: false);
        Expect(TokenKind.BlockEnd);
        while (true)
        {
            var body = ParseBody(["elif", "else", "endif"]);
            branches.Add((test, body));
            var tag = Next();
            if (tag.Value == "elif")
            {
                test = ParseTuple(withConditional: false, allowEmpty: false);
                Expect(TokenKind.BlockEnd);
                continue;
            }
            if (tag.Value == "else")
            {
                Expect(TokenKind.BlockEnd);
                var otherwise = ParseBody(["endif"]);
                EndTag("endif");
                return new IfStmt(branches, otherwise, begin.Offset);
            }
            Expect(TokenKind.BlockEnd);
            return new IfStmt(branches, [], begin.Offset);
        }
    }

    private ForStmt ParseFor(Token begin)
    {
        var target = ParseAssignTarget(allowTuple: true, allowAttribute: false);
        Expect(TokenKind.Name, "in");
        // The iterable has no conditional expression: "for x in xs if cond" filters the loop.
        var iterable = ParseTuple(withConditional: false, allowEmpty: false);
        Expr? condition = null;
        if (SkipIf(TokenKind.Name, "if"))
        {
            condition = ParseExpression();
        }

        if (Current.IsName("recursive"))
        {
            throw Error("recursive loops are not supported by this server's Jinja subset", Current);
        }

        Expect(TokenKind.BlockEnd);
        loopDepth++;
        var body = ParseBody(["endfor", "else"]);
        loopDepth--;
        IReadOnlyList<Stmt> otherwise = [];
        if (Next().Value == "else")
        {
            Expect(TokenKind.BlockEnd);
            otherwise = ParseBody(["endfor"]);
            EndTag("endfor");
        }
        else
        {
            Expect(TokenKind.BlockEnd);
        }
        return new ForStmt(target, iterable, condition, body, otherwise, begin.Offset);
    }

    private Stmt ParseSet(Token begin)
    {
        var target = ParseAssignTarget(allowTuple: true, allowAttribute: true);
        if (SkipIf(TokenKind.Operator, "="))
        {
            var value = ParseTuple(withConditional: true, allowEmpty: false);
            Expect(TokenKind.BlockEnd);
            return new SetStmt(target, value, begin.Offset);
        }
        var filters = Current.Kind == TokenKind.BlockEnd ? [] : ParseFilterChain(requireFirstPipe: true);
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endset"]);
        EndTag("endset");
        return new SetBlockStmt(target, filters, body, begin.Offset);
    }

    private MacroStmt ParseMacro(Token begin)
    {
        var name = Expect(TokenKind.Name);
        var parameters = ParseParameters();
        Expect(TokenKind.BlockEnd);
        var body = OutsideLoops(() => ParseBody(["endmacro"]));
        EndTag("endmacro");
        return new MacroStmt(name.Value, parameters, body, begin.Offset);
    }

    private CallBlockStmt ParseCallBlock(Token begin)
    {
        IReadOnlyList<MacroParameter> parameters = Current.IsOperator("(") ? ParseParameters() : [];
        var call = ParseExpression() as CallExpr ?? throw Error("expected a call after 'call'", Current);
        Expect(TokenKind.BlockEnd);
        var body = OutsideLoops(() => ParseBody(["endcall"]));
        EndTag("endcall");
        return new CallBlockStmt(call, parameters, body, begin.Offset);
    }

    private FilterBlockStmt ParseFilterBlock(Token begin)
    {
        var filters = ParseFilterChain(requireFirstPipe: false);
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endfilter"]);
        EndTag("endfilter");
        return new FilterBlockStmt(filters, body, begin.Offset);
    }

    private WithStmt ParseWith(Token begin)
    {
        var assignments = new List<(Target, Expr)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
            }

            var target = ParseAssignTarget(allowTuple: false, allowAttribute: false);
            Expect(TokenKind.Operator, "=");
            assignments.Add((target, ParseExpression()));
        }
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endwith"]);
        EndTag("endwith");
        return new WithStmt(assignments, body, begin.Offset);
    }

    private ScopeStmt ParseScope(Token begin, string endTag)
    {
        Expect(TokenKind.BlockEnd);
        var body = ParseBody([endTag]);
        EndTag(endTag);
        return new ScopeStmt(body, begin.Offset);
    }

    // A macro or caller body is its own function: break and continue there cannot reach an enclosing loop.
    private List<Stmt> OutsideLoops(Func<List<Stmt>> parse)
    {
        var saved = loopDepth;
        loopDepth = 0;
        try
        {
            return parse();
        }
        finally
        {
            loopDepth = saved;
        }
    }

    private List<MacroParameter> ParseParameters()
    {
        Expect(TokenKind.Operator, "(");
        var parameters = new List<MacroParameter>();
        while (!SkipIf(TokenKind.Operator, ")"))
        {
            if (parameters.Count > 0)
            {
                Expect(TokenKind.Operator, ",");
            }

            if (SkipIf(TokenKind.Operator, ")"))
            {
                break;
            }

            var name = Expect(TokenKind.Name);
            var fallback = SkipIf(TokenKind.Operator, "=") ? ParseExpression() : null;
            if (fallback is null && parameters.Any(parameter => parameter.Default is not null))
            {
                throw Error("non-default argument follows default argument", name);
            }

            parameters.Add(new MacroParameter(name.Value, fallback));
        }
        return parameters;
    }

    private Target ParseAssignTarget(bool allowTuple, bool allowAttribute)
    {
        var first = ParseSingleTarget(allowAttribute);
        if (!allowTuple || !Current.IsOperator(","))
        {
            return first;
        }

        var items = new List<Target> { first };
        while (SkipIf(TokenKind.Operator, ","))
        {
            if (Current.IsName("in") || Current.IsOperator("=") || Current.Kind == TokenKind.BlockEnd)
            {
                break;
            }

            items.Add(ParseSingleTarget(allowAttribute: false));
        }
        return new TupleTarget(items, first.Offset);
    }

    private Target ParseSingleTarget(bool allowAttribute)
    {
        if (SkipIf(TokenKind.Operator, "("))
        {
            var inner = ParseAssignTarget(allowTuple: true, allowAttribute: false);
            Expect(TokenKind.Operator, ")");
            return inner;
        }
        var name = Expect(TokenKind.Name);
        if (allowAttribute && SkipIf(TokenKind.Operator, "."))
        {
            return new AttributeTarget(name.Value, Expect(TokenKind.Name).Value, name.Offset);
        }

        if (name.Value is "true" or "false" or "none" or "True" or "False" or "None")
        {
            throw Error($"cannot assign to '{name.Value}'", name);
        }

        return new NameTarget(name.Value, name.Offset);
    }

    // A chain of filters for filter blocks and block sets: "name(args) | name …".
    private List<FilterExpr> ParseFilterChain(bool requireFirstPipe)
    {
        var filters = new List<FilterExpr>();
        if (requireFirstPipe && !Current.IsOperator("|"))
        {
            throw Error($"expected '=' or '|', got {Current.Describe()}", Current);
        }

        while (filters.Count == 0 || Current.IsOperator("|"))
        {
            SkipIf(TokenKind.Operator, "|");
            filters.Add(ParseFilterCall(null));
        }
        return filters;
    }

    // Expressions --------------------------------------------------------------------------------------------

    private Expr ParseTuple(bool withConditional, bool allowEmpty)
    {
        var start = Current;
        var items = new List<Expr>();
        var isTuple = false;
        while (true)
        {
            if (items.Count > 0)
            {
                if (!SkipIf(TokenKind.Operator, ","))
                {
                    break;
                }

                isTuple = true;
            }
            if (IsTupleEnd())
            {
                break;
            }

            items.Add(withConditional ? ParseExpression() : ParseOr());
        }
        if (items.Count == 0)
        {
            if (allowEmpty)
            {
                return new TupleExpr([], start.Offset);
            }

            throw Error($"expected an expression, got {Current.Describe()}", Current);
        }
        return isTuple ? new TupleExpr(items, start.Offset) : items[0];
    }

    private bool IsTupleEnd() => Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.EndOfSource
        || Current.IsOperator(")") || Current.IsName("in");

    private Expr ParseExpression()
    {
        using (Enter(Current))
        {
            var value = ParseOr();
            while (Current.IsName("if"))
            {
                var at = Next();
                var test = ParseOr();
                var otherwise = SkipIf(TokenKind.Name, "else") ? ParseExpression() : null;
                value = new ConditionalExpr(test, value, otherwise, at.Offset);
            }
            return value;
        }
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var at = Next();
            left = new BinaryExpr("or", left, ParseAnd(), at.Offset);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var at = Next();
            left = new BinaryExpr("and", left, ParseNot(), at.Offset);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            var at = Next();
            using (Enter(at))
            {
                return new UnaryExpr("not", ParseNot(), at.Offset);
            }
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var first = ParseAdditive();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOperators.Contains(Current.Value))
            {
                var op = Next().Value;
                rest.Add((op, ParseAdditive()));
            }
            else if (Current.IsName("in"))
            {
                index++;
                rest.Add(("in", ParseAdditive()));
            }
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                index += 2;
                rest.Add(("notin", ParseAdditive()));
            }
            else
            {
                break;
            }
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, first.Offset);
    }

    private Expr ParseAdditive()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Value, left, ParseConcat(), op.Offset);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMultiplicative();
        while (Current.IsOperator("~"))
        {
            var op = Next();
            left = new BinaryExpr("~", left, ParseMultiplicative(), op.Offset);
        }
        return left;
    }

    private Expr ParseMultiplicative()
    {
        var left = ParsePower();
        while (Current.Kind == TokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var op = Next();
            left = new BinaryExpr(op.Value, left, ParsePower(), op.Offset);
        }
        return left;
    }

    private Expr ParsePower()
    {
        var left = ParseUnary(withFilter: true);
        while (Current.IsOperator("**"))
        {
            var op = Next();
            left = new BinaryExpr("**", left, ParseUnary(withFilter: true), op.Offset);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        Expr value;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            var op = Next();
            using (Enter(op))
            {
                value = new UnaryExpr(op.Value, ParseUnary(withFilter: false), op.Offset);
            }
        }
        else
        {
            value = ParsePrimary();
        }
        value = ParsePostfix(value);
        return withFilter ? ParseFilterAndTests(value) : value;
    }

    private Expr ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Name:
                index++;
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, token.Offset),
                    "false" or "False" => new LiteralExpr(false, token.Offset),
                    "none" or "None" => new LiteralExpr(null, token.Offset),
                    _ => new NameExpr(token.Value, token.Offset),
                };
            case TokenKind.String:
                index++;
                var text = token.Value;
                // Adjacent string literals concatenate, as in Python.
                while (Current.Kind == TokenKind.String)
                {
                    text += Next().Value;
                }

                return new LiteralExpr(text, token.Offset);
            case TokenKind.Integer:
                index++;
                if (!long.TryParse(token.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var integer))
                {
                    throw Error($"integer literal {token.Value} is too large", token);
                }

                return new LiteralExpr(integer, token.Offset);
            case TokenKind.Float:
                index++;
                return new LiteralExpr(double.Parse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture), token.Offset);
            case TokenKind.Operator when token.Value == "(":
                index++;
                using (Enter(token))
                {
                    var inner = ParseTuple(withConditional: true, allowEmpty: true);
                    Expect(TokenKind.Operator, ")");
                    return inner;
                }
            case TokenKind.Operator when token.Value == "[":
                index++;
                return new ListExpr(ParseSequence("]"), token.Offset);
            case TokenKind.Operator when token.Value == "{":
                index++;
                return ParseDict(token);
            default:
                throw Error($"unexpected {token.Describe()}", token);
        }
    }

    private List<Expr> ParseSequence(string close)
    {
        var items = new List<Expr>();
        using (Enter(Current))
        {
            while (!SkipIf(TokenKind.Operator, close))
            {
                if (items.Count > 0)
                {
                    Expect(TokenKind.Operator, ",");
                    if (SkipIf(TokenKind.Operator, close))
                    {
                        break;
                    }
                }
                items.Add(ParseExpression());
            }
            return items;
        }
    }

    private DictExpr ParseDict(Token open)
    {
        var pairs = new List<(Expr, Expr)>();
        using (Enter(open))
        {
            while (!SkipIf(TokenKind.Operator, "}"))
            {
                if (pairs.Count > 0)
                {
                    Expect(TokenKind.Operator, ",");
                    if (SkipIf(TokenKind.Operator, "}"))
                    {
                        break;
                    }
                }
                var key = ParseExpression();
                Expect(TokenKind.Operator, ":");
                pairs.Add((key, ParseExpression()));
            }
            return new DictExpr(pairs, open.Offset);
        }
    }

    private Expr ParsePostfix(Expr value)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("."))
            {
                index++;
                var attribute = Next();
                value = attribute.Kind switch
                {
                    TokenKind.Name => new AttributeExpr(value, attribute.Value, token.Offset),
                    TokenKind.Integer => new ItemExpr(value, new LiteralExpr(IntegerAttribute(attribute), attribute.Offset), token.Offset),
                    _ => throw Error($"expected a name after '.', got {attribute.Describe()}", attribute),
                };
            }
            else if (token.IsOperator("["))
            {
                index++;
                value = ParseSubscript(value, token);
            }
            else if (token.IsOperator("("))
            {
                value = new CallExpr(value, ParseCallArguments(), token.Offset);
            }
            else
            {
                return value;
            }
        }
    }

    private Expr ParseSubscript(Expr target, Token open)
    {
        using (Enter(open))
        {
            Expr? start = null;
            if (!Current.IsOperator(":"))
            {
                start = ParseExpression();
                if (SkipIf(TokenKind.Operator, "]"))
                {
                    return new ItemExpr(target, start, open.Offset);
                }
            }
            Expect(TokenKind.Operator, ":");
            var stop = Current.IsOperator("]") || Current.IsOperator(":") ? null : ParseExpression();
            Expr? step = null;
            if (SkipIf(TokenKind.Operator, ":") && !Current.IsOperator("]"))
            {
                step = ParseExpression();
            }

            Expect(TokenKind.Operator, "]");
            return new SliceExpr(target, start, stop, step, open.Offset);
        }
    }

    private CallArguments ParseCallArguments()
    {
        var open = Expect(TokenKind.Operator, "(");
        using (Enter(open))
        {
            var positional = new List<Expr>();
            var keyword = new List<(string, Expr)>();
            while (!SkipIf(TokenKind.Operator, ")"))
            {
                if (positional.Count + keyword.Count > 0)
                {
                    Expect(TokenKind.Operator, ",");
                    if (SkipIf(TokenKind.Operator, ")"))
                    {
                        break;
                    }
                }
                if (Current.IsOperator("*") || Current.IsOperator("**"))
                {
                    throw Error("*args and **kwargs in calls are not supported by this server's Jinja subset", Current);
                }

                if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
                {
                    var name = Next().Value;
                    index++;
                    keyword.Add((name, ParseExpression()));
                }
                else
                {
                    if (keyword.Count > 0)
                    {
                        throw Error("positional argument follows keyword argument", Current);
                    }

                    positional.Add(ParseExpression());
                }
            }
            return new CallArguments(positional, keyword);
        }
    }

    private Expr ParseFilterAndTests(Expr value)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
            {
                index++;
                value = ParseFilterCall(value);
            }
            else if (Current.IsName("is"))
            {
                index++;
                value = ParseTest(value);
            }
            else if (Current.IsOperator("("))
            {
                value = new CallExpr(value, ParseCallArguments(), Current.Offset);
            }
            else
            {
                return value;
            }
        }
    }

    private FilterExpr ParseFilterCall(Expr? target)
    {
        var name = ParseDottedName();
        if (!Filters.Exists(name.Value))
        {
            throw Error($"no filter named '{name.Value}'", name);
        }

        var arguments = Current.IsOperator("(") ? ParseCallArguments() : CallArguments.None;
        return new FilterExpr(target, name.Value, arguments, name.Offset);
    }

    private TestExpr ParseTest(Expr target)
    {
        var negated = SkipIf(TokenKind.Name, "not");
        var name = ParseDottedName();
        if (!Tests.Exists(name.Value))
        {
            throw Error($"no test named '{name.Value}'", name);
        }

        CallArguments arguments;
        if (Current.IsOperator("("))
        {
            arguments = ParseCallArguments();
        }
        else if (Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                 || Current.IsOperator("[") || Current.IsOperator("{"))
        {
            // jinja2 takes one argument without parentheses ("x is divisibleby 3"), unless the name ends the test.
            if (Current.Kind == TokenKind.Name && Current.Value is "else" or "or" or "and")
            {
                arguments = CallArguments.None;
            }
            else
            {
                var argument = ParsePostfix(ParsePrimary());
                arguments = new CallArguments([argument], []);
            }
        }
        else
        {
            arguments = CallArguments.None;
        }
        return new TestExpr(target, name.Value, arguments, negated, name.Offset);
    }

    // Filter and test names: jinja2 allows dotted names; none of the supported ones has a dot.
    private Token ParseDottedName()
    {
        var name = Expect(TokenKind.Name);
        if (!Current.IsOperator("."))
        {
            return name;
        }

        var dotted = name.Value;
        while (SkipIf(TokenKind.Operator, "."))
        {
            dotted += "." + Expect(TokenKind.Name).Value;
        }

        return name with { Value = dotted };
    }
}
