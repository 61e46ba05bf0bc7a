using System.Runtime.CompilerServices;
using System.Text;

namespace InferServer.Jinja;

/// <summary>Walks a parsed template and writes its output. One instance per render; not thread-safe.</summary>
internal sealed class Renderer(SourceText source, RenderBudget budget)
{
    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    // Python's recursion limit (1000 frames) stops jinja2 well before this; deeper trees come only from hostile templates.
    private const int MaxExpressionDepth = 500;

    private int callDepth;
    private int expressionDepth;

    public string Render(IReadOnlyList<Stmt> body, Scope scope)
    {
        var output = new StringBuilder();
        Execute(body, scope, output);
        return output.ToString();
    }

    private Flow Execute(IReadOnlyList<Stmt> body, Scope scope, StringBuilder output)
    {
        foreach (var statement in body)
        {
            var flow = Located(statement.Offset, () => ExecuteOne(statement, scope, output));
            if (flow != Flow.Normal)
            {
                return flow;
            }
        }
        return Flow.Normal;
    }

    private Flow ExecuteOne(Stmt statement, Scope scope, StringBuilder output)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        switch (statement)
        {
            case TextStmt text:
                Write(output, text.Text);
                return Flow.Normal;
            case OutputStmt print:
                Write(output, JinjaValues.ToStr(Evaluate(print.Value, scope)));
                return Flow.Normal;
            case IfStmt conditional:
                foreach (var (test, branch) in conditional.Branches)
                {
                    if (JinjaValues.IsTrue(Evaluate(test, scope)))
                    {
                        return Execute(branch, scope, output);
                    }
                }
                return Execute(conditional.Else, scope, output);
            case ForStmt loop:
                return ExecuteFor(loop, scope, output);
            case SetStmt set:
                Assign(set.Target, Evaluate(set.Value, scope), scope);
                return Flow.Normal;
            case SetBlockStmt setBlock:
                Assign(setBlock.Target, ApplyFilters(setBlock.Filters, RenderToString(setBlock.Body, new Scope(scope)), scope), scope);
                return Flow.Normal;
            case MacroStmt macro:
                scope.Set(macro.Name, DefineMacro(macro.Name, macro.Parameters, macro.Body, scope));
                return Flow.Normal;
            case CallBlockStmt callBlock:
                var caller = DefineMacro("caller", callBlock.Parameters, callBlock.Body, scope);
                Write(output, JinjaValues.ToStr(Call(callBlock.Call, scope, caller)));
                return Flow.Normal;
            case FilterBlockStmt filterBlock:
                Write(output, JinjaValues.ToStr(ApplyFilters(filterBlock.Filters, RenderToString(filterBlock.Body, new Scope(scope)), scope)));
                return Flow.Normal;
            case WithStmt with:
                var inner = new Scope(scope);
                foreach (var (target, value) in with.Assignments)
                {
                    Assign(target, Evaluate(value, scope), inner);
                }

                return Execute(with.Body, inner, output);
            case ScopeStmt block:
                return Execute(block.Body, new Scope(scope), output);
            case BreakStmt:
                return Flow.Break;
            case ContinueStmt:
                return Flow.Continue;
            default:
                throw new JinjaError($"unknown statement {statement.GetType().Name}");
        }
    }

    private void Write(StringBuilder output, string text)
    {
        output.Append(text);
        budget.CheckSize(output.Length);
    }

    private string RenderToString(IReadOnlyList<Stmt> body, Scope scope)
    {
        var buffer = new StringBuilder();
        Execute(body, scope, buffer);
        return buffer.ToString();
    }

    private Flow ExecuteFor(ForStmt loop, Scope scope, StringBuilder output)
    {
        var iterable = Evaluate(loop.Iterable, scope);
        if (iterable is null)
        {
            throw new JinjaError("'NoneType' object is not iterable");
        }

        var items = JinjaValues.Iterate(iterable);
        if (loop.Condition is not null)
        {
            var kept = new List<object?>();
            foreach (var item in items)
            {
                budget.Iteration();
                var filterScope = new Scope(scope);
                Assign(loop.Target, item, filterScope);
                if (JinjaValues.IsTrue(Evaluate(loop.Condition, filterScope)))
                {
                    kept.Add(item);
                }
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            return Execute(loop.Else, scope, output);
        }

        var context = new LoopContext(items, depth: 1);
        for (var i = 0; i < items.Count; i++)
        {
            budget.Iteration();
            var iteration = new Scope(scope);
            Assign(loop.Target, items[i], iteration);
            context.Index0 = i;
            iteration.Set("loop", context);
            if (Execute(loop.Body, iteration, output) == Flow.Break)
            {
                break;
            }
        }
        return Flow.Normal;
    }

    private void Assign(Target target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameTarget name:
                scope.Set(name.Name, value);
                break;
            case AttributeTarget attribute:
                if (!scope.TryLookup(attribute.Namespace, out var owner) || owner is not Namespace ns)
                {
                    throw new JinjaError("cannot assign attribute on non-namespace object");
                }

                ns.Attributes[attribute.Attribute] = value;
                break;
            case TupleTarget tuple:
                var items = JinjaValues.Iterate(value);
                if (items.Count != tuple.Items.Count)
                {
                    throw new JinjaError(items.Count > tuple.Items.Count
                        ? $"too many values to unpack (expected {tuple.Items.Count})"
                        : $"not enough values to unpack (expected {tuple.Items.Count}, got {items.Count})");
                }

                for (var i = 0; i < items.Count; i++)
                {
                    Assign(tuple.Items[i], items[i], scope);
                }

                break;
        }
    }

    private JinjaFunction DefineMacro(string name, IReadOnlyList<MacroParameter> parameters, IReadOnlyList<Stmt> body, Scope definingScope) =>
        new(name, arguments =>
        {
            if (++callDepth > budget.Options.MaxCallDepth)
            {
                throw new JinjaError($"macro calls nest deeper than {budget.Options.MaxCallDepth}");
            }

            try
            {
                if (arguments.Positional.Count > parameters.Count)
                {
                    throw new JinjaError($"macro '{name}' takes not more than {parameters.Count} argument(s)");
                }

                var macroScope = new Scope(definingScope);
                for (var i = 0; i < parameters.Count; i++)
                {
                    var parameter = parameters[i];
                    object? value;
                    if (i < arguments.Positional.Count)
                    {
                        value = arguments.Positional[i];
                    }
                    else if (arguments.Keyword.TryGetValue(parameter.Name, out var given))
                    {
                        value = given;
                    }
                    else if (parameter.Default is not null)
                    {
                        value = Evaluate(parameter.Default, macroScope);
                    }
                    else
                    {
                        value = new Undefined($"parameter '{parameter.Name}' was not provided");
                    }

                    macroScope.Set(parameter.Name, value);
                }
                foreach (var keyword in arguments.Keyword.Keys)
                {
                    if (keyword == "caller")
                    {
                        macroScope.Set("caller", arguments.Keyword[keyword]);
                    }
                    else if (!parameters.Any(parameter => parameter.Name == keyword))
                    {
                        throw new JinjaError($"macro '{name}' takes no keyword argument '{keyword}'");
                    }
                }
                return RenderToString(body, macroScope);
            }
            finally
            {
                callDepth--;
            }
        });

    private object? ApplyFilters(IReadOnlyList<FilterExpr> filters, object? value, Scope scope)
    {
        foreach (var filter in filters)
        {
            value = Filters.Apply(filter.Name, value, EvaluateArguments(filter.Arguments, scope), budget);
        }

        return value;
    }

    // Runs body, turning value-level failures into errors that name the template line and column.
    private T Located<T>(int offset, Func<T> body)
    {
        // No clause here catches a TemplateException: an error converted in the innermost frame passes the outer ones
        // without running a handler. Catching and rethrowing at every level would nest one exception dispatch per level
        // on the stack, and a deep expression would overflow it while reporting the error.
        try
        {
            return body();
        }
        catch (RaisedByTemplate raised)
        {
            var (line, column) = source.Locate(offset);
            throw new TemplateRaisedException(raised.Message, line, column);
        }
        catch (JinjaError error)
        {
            var (line, column) = source.Locate(offset);
            throw new TemplateRuntimeException(error.Message, line, column);
        }
        catch (InvalidOperationException wrapped) when (wrapped.InnerException is JinjaError error)
        {
            // List.Sort wraps what its comparer throws ([1, 'a']|sort).
            var (line, column) = source.Locate(offset);
            throw new TemplateRuntimeException(error.Message, line, column);
        }
        catch (Exception error) when (error is InvalidCastException or OverflowException or ArgumentException or FormatException
                                          or IndexOutOfRangeException or InsufficientExecutionStackException)
        {
            var (line, column) = source.Locate(offset);
            throw new TemplateRuntimeException(error.Message, line, column);
        }
    }

    // Expression trees can be deep without nesting (a ~ b ~ c ..., x|f|f|f ...): the stack is checked here, per
    // expression, so a hostile template fails with an error instead of overflowing the stack, which would end the process.
    private object? Evaluate(Expr expression, Scope scope) => Located(expression.Offset, () =>
    {
        if (++expressionDepth > MaxExpressionDepth)
        {
            throw new JinjaError($"the template's expressions nest deeper than {MaxExpressionDepth} levels");
        }

        try
        {
            RuntimeHelpers.EnsureSufficientExecutionStack();
            budget.Tick();
            return EvaluateCore(expression, scope);
        }
        finally
        {
            expressionDepth--;
        }
    });

    private object? EvaluateCore(Expr expression, Scope scope)
    {
        switch (expression)
        {
            case LiteralExpr literal:
                return literal.Value;
            case NameExpr name:
                return scope.TryLookup(name.Name, out var value) ? value : Undefined.Variable(name.Name);
            case ListExpr list:
                return budget.Checked(list.Items.Select(item => Evaluate(item, scope)).ToList());
            case TupleExpr tuple:
                return tuple.Items.Select(item => Evaluate(item, scope)).ToArray();
            case DictExpr dictionary:
                var result = new Dictionary<object, object?>();
                foreach (var (key, entry) in dictionary.Pairs)
                {
                    result[JinjaValues.Key(Evaluate(key, scope))] = Evaluate(entry, scope);
                }

                return result;
            case AttributeExpr attribute:
                return Members.GetAttribute(Evaluate(attribute.Target, scope), attribute.Name, budget);
            case ItemExpr item:
                return Members.GetItem(Evaluate(item.Target, scope), Evaluate(item.Key, scope), budget);
            case SliceExpr slice:
                return Members.Slice(Evaluate(slice.Target, scope), Optional(slice.Start, scope), Optional(slice.Stop, scope), Optional(slice.Step, scope));
            case CallExpr call:
                return Call(call, scope, caller: null);
            case FilterExpr filter:
                return Filters.Apply(filter.Name, filter.Target is null ? null : Evaluate(filter.Target, scope), EvaluateArguments(filter.Arguments, scope), budget);
            case TestExpr test:
                return Tests.Apply(test.Name, Evaluate(test.Target, scope), EvaluateArguments(test.Arguments, scope)) != test.Negated;
            case UnaryExpr unary:
                var operand = Evaluate(unary.Operand, scope);
                return unary.Operator switch
                {
                    "not" => !JinjaValues.IsTrue(operand),
                    "-" => Operators.Negate(operand),
                    _ => Operators.Plus(operand),
                };
            case BinaryExpr { Operator: "and" } and:
                var left = Evaluate(and.Left, scope);
                return JinjaValues.IsTrue(left) ? Evaluate(and.Right, scope) : left;
            case BinaryExpr { Operator: "or" } or:
                var first = Evaluate(or.Left, scope);
                return JinjaValues.IsTrue(first) ? first : Evaluate(or.Right, scope);
            case BinaryExpr binary:
                return Operators.Binary(binary.Operator, Evaluate(binary.Left, scope), Evaluate(binary.Right, scope), budget);
            case CompareExpr compare:
                return EvaluateCompare(compare, scope);
            case ConditionalExpr conditional:
                if (JinjaValues.IsTrue(Evaluate(conditional.Test, scope)))
                {
                    return Evaluate(conditional.Then, scope);
                }

                if (conditional.Else is not null)
                {
                    return Evaluate(conditional.Else, scope);
                }

                var (line, _) = source.Locate(conditional.Offset);
                return new Undefined($"the inline if-expression on line {line} evaluated to false and no else section was defined.");
            default:
                throw new JinjaError($"unknown expression {expression.GetType().Name}");
        }
    }

    private object? Optional(Expr? expression, Scope scope) => expression is null ? null : Evaluate(expression, scope);

    private bool EvaluateCompare(CompareExpr compare, Scope scope)
    {
        var left = Evaluate(compare.First, scope);
        foreach (var (op, operand) in compare.Rest)
        {
            var right = Evaluate(operand, scope);
            var holds = op switch
            {
                "==" => JinjaValues.Equals(left, right),
                "!=" => !JinjaValues.Equals(left, right),
                "<" => JinjaValues.Compare(left, right, op) < 0,
                "<=" => JinjaValues.Compare(left, right, op) <= 0,
                ">" => JinjaValues.Compare(left, right, op) > 0,
                ">=" => JinjaValues.Compare(left, right, op) >= 0,
                "in" => Operators.Contains(right, left),
                _ => !Operators.Contains(right, left),
            };
            if (!holds)
            {
                return false;
            }

            left = right;
        }
        return true;
    }

    private object? Call(CallExpr call, Scope scope, JinjaFunction? caller)
    {
        var callee = Evaluate(call.Callee, scope);
        var arguments = EvaluateArguments(call.Arguments, scope, caller);
        return callee switch
        {
            JinjaFunction function => Located(call.Offset, () => function.Invoke(arguments)),
            Undefined undefined => throw undefined.Fail(),
            _ => throw new JinjaError($"'{JinjaValues.TypeName(callee)}' object is not callable"),
        };
    }

    private Arguments EvaluateArguments(CallArguments arguments, Scope scope, JinjaFunction? caller = null)
    {
        if (arguments.Positional.Count == 0 && arguments.Keyword.Count == 0 && caller is null)
        {
            return Arguments.Empty;
        }

        var positional = arguments.Positional.Select(argument => Evaluate(argument, scope)).ToList();
        var keyword = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in arguments.Keyword)
        {
            if (!keyword.TryAdd(name, Evaluate(value, scope)))
            {
                throw new JinjaError($"keyword argument repeated: {name}");
            }
        }
        if (caller is not null)
        {
            keyword["caller"] = caller;
        }

        return new Arguments(positional, keyword);
    }
}
