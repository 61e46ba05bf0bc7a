namespace InferServer.Jinja;

// The syntax tree the parser builds and the renderer walks. Every node keeps the source offset it starts at, for
// error locations.

internal abstract record Node(int Offset);

internal abstract record Expr(int Offset) : Node(Offset);

internal sealed record LiteralExpr(object? Value, int Offset) : Expr(Offset);

internal sealed record NameExpr(string Name, int Offset) : Expr(Offset);

internal sealed record ListExpr(IReadOnlyList<Expr> Items, int Offset) : Expr(Offset);

internal sealed record TupleExpr(IReadOnlyList<Expr> Items, int Offset) : Expr(Offset);

internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Pairs, int Offset) : Expr(Offset);

internal sealed record AttributeExpr(Expr Target, string Name, int Offset) : Expr(Offset);

internal sealed record ItemExpr(Expr Target, Expr Key, int Offset) : Expr(Offset);

internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Offset) : Expr(Offset);

/// <summary>Call arguments: positional, then keyword (name = value).</summary>
internal sealed record CallArguments(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Keyword)
{
    public static readonly CallArguments None = new([], []);
}

internal sealed record CallExpr(Expr Callee, CallArguments Arguments, int Offset) : Expr(Offset);

/// <summary><c>target | name(args)</c>; <see cref="Target"/> is null inside a filter block or a block set.</summary>
internal sealed record FilterExpr(Expr? Target, string Name, CallArguments Arguments, int Offset) : Expr(Offset);

internal sealed record TestExpr(Expr Target, string Name, CallArguments Arguments, bool Negated, int Offset) : Expr(Offset);

internal sealed record UnaryExpr(string Operator, Expr Operand, int Offset) : Expr(Offset);

/// <summary>Arithmetic, "~", "and", "or".</summary>
internal sealed record BinaryExpr(string Operator, Expr Left, Expr Right, int Offset) : Expr(Offset);

/// <summary>A comparison chain: <c>a &lt; b &lt;= c</c> means a &lt; b and b &lt;= c. Operators include "in" and "notin".</summary>
internal sealed record CompareExpr(Expr First, IReadOnlyList<(string Operator, Expr Operand)> Rest, int Offset) : Expr(Offset);

/// <summary><c>Then if Test else Else</c>; without else the result is undefined when the test fails.</summary>
internal sealed record ConditionalExpr(Expr Test, Expr Then, Expr? Else, int Offset) : Expr(Offset);

internal abstract record Stmt(int Offset) : Node(Offset);

internal sealed record TextStmt(string Text, int Offset) : Stmt(Offset);

internal sealed record OutputStmt(Expr Value, int Offset) : Stmt(Offset);

internal sealed record IfStmt(IReadOnlyList<(Expr Test, IReadOnlyList<Stmt> Body)> Branches, IReadOnlyList<Stmt> Else, int Offset) : Stmt(Offset);

/// <summary>Assignment targets: a name, a tuple of names (unpacking), or a namespace attribute (<c>ns.attr</c>).</summary>
internal abstract record Target(int Offset);

internal sealed record NameTarget(string Name, int Offset) : Target(Offset);

internal sealed record TupleTarget(IReadOnlyList<Target> Items, int Offset) : Target(Offset);

internal sealed record AttributeTarget(string Namespace, string Attribute, int Offset) : Target(Offset);

internal sealed record ForStmt(Target Target, Expr Iterable, Expr? Condition, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Else, int Offset) : Stmt(Offset);

internal sealed record SetStmt(Target Target, Expr Value, int Offset) : Stmt(Offset);

/// <summary><c>{% set name | filters %}body{% endset %}</c>: the rendered body, through the filters, assigned.</summary>
internal sealed record SetBlockStmt(Target Target, IReadOnlyList<FilterExpr> Filters, IReadOnlyList<Stmt> Body, int Offset) : Stmt(Offset);

internal sealed record MacroParameter(string Name, Expr? Default);

internal sealed record MacroStmt(string Name, IReadOnlyList<MacroParameter> Parameters, IReadOnlyList<Stmt> Body, int Offset) : Stmt(Offset);

/// <summary><c>{% call(params) macro(args) %}body{% endcall %}</c>: the macro runs with <c>caller</c> rendering the body.</summary>
internal sealed record CallBlockStmt(CallExpr Call, IReadOnlyList<MacroParameter> Parameters, IReadOnlyList<Stmt> Body, int Offset) : Stmt(Offset);

internal sealed record FilterBlockStmt(IReadOnlyList<FilterExpr> Filters, IReadOnlyList<Stmt> Body, int Offset) : Stmt(Offset);

internal sealed record WithStmt(IReadOnlyList<(Target Target, Expr Value)> Assignments, IReadOnlyList<Stmt> Body, int Offset) : Stmt(Offset);

/// <summary>A block whose body renders as is: transformers' {% generation %}, which only marks assistant text.</summary>
internal sealed record ScopeStmt(IReadOnlyList<Stmt> Body, int Offset) : Stmt(Offset);

internal sealed record BreakStmt(int Offset) : Stmt(Offset);

internal sealed record ContinueStmt(int Offset) : Stmt(Offset);
