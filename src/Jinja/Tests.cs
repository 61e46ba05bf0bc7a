using System.Collections;

namespace InferServer.Jinja;

/// <summary>The tests of <c>x is name</c>, with jinja2 3.1's semantics (an Undefined is iterable and a sequence,
/// because jinja2's Undefined has a length and iterates as empty).</summary>
internal static class Tests
{
    private delegate bool Test(object? value, Arguments arguments);

    private static readonly Dictionary<string, Test> All = new(StringComparer.Ordinal)
    {
        ["boolean"] = (value, arguments) => NoArguments(arguments, "boolean", value is bool),
        ["callable"] = (value, arguments) => NoArguments(arguments, "callable", value is JinjaFunction),
        ["defined"] = (value, arguments) => NoArguments(arguments, "defined", value is not Undefined),
        ["divisibleby"] = (value, arguments) =>
        {
            var divisor = JinjaValues.ToLong(arguments.Bind("divisibleby", ["num"])[0]);
            return divisor != 0 && JinjaValues.ToLong(value) % divisor == 0;
        },
        ["eq"] = Equal,
        ["equalto"] = Equal,
        ["=="] = Equal,
        ["even"] = (value, arguments) => NoArguments(arguments, "even", JinjaValues.ToLong(value) % 2 == 0),
        ["false"] = (value, arguments) => NoArguments(arguments, "false", value is false),
        ["float"] = (value, arguments) => NoArguments(arguments, "float", value is double),
        ["ge"] = (value, arguments) => JinjaValues.Compare(value, Other(arguments, "ge"), ">=") >= 0,
        [">="] = (value, arguments) => JinjaValues.Compare(value, Other(arguments, "ge"), ">=") >= 0,
        ["gt"] = (value, arguments) => JinjaValues.Compare(value, Other(arguments, "gt"), ">") > 0,
        [">"] = (value, arguments) => JinjaValues.Compare(value, Other(arguments, "gt"), ">") > 0,
        ["greaterthan"] = (value, arguments) => JinjaValues.Compare(value, Other(arguments, "gt"), ">") > 0,
        ["in"] = (value, arguments) => Operators.Contains(arguments.Bind("in", ["seq"])[0], value),
        ["integer"] = (value, arguments) => NoArguments(arguments, "integer", value is long),
        ["iterable"] = (value, arguments) => NoArguments(arguments, "iterable", value is string or IList or IDictionary or Undefined),
        ["le"] = (value, arguments) => JinjaValues.Compare(value, Other(arguments, "le"), "<=") <= 0,
        ["<="] = (value, arguments) => JinjaValues.Compare(value, Other(arguments, "le"), "<=") <= 0,
        ["lower"] = (value, arguments) => NoArguments(arguments, "lower", value is string text && text.ToLowerInvariant() == text),
        ["lt"] = (value, arguments) => JinjaValues.Compare(value, Other(arguments, "lt"), "<") < 0,
        ["<"] = (value, arguments) => JinjaValues.Compare(value, Other(arguments, "lt"), "<") < 0,
        ["lessthan"] = (value, arguments) => JinjaValues.Compare(value, Other(arguments, "lt"), "<") < 0,
        ["mapping"] = (value, arguments) => NoArguments(arguments, "mapping", value is IDictionary),
        ["ne"] = (value, arguments) => !JinjaValues.Equals(value, Other(arguments, "ne")),
        ["!="] = (value, arguments) => !JinjaValues.Equals(value, Other(arguments, "ne")),
        ["none"] = (value, arguments) => NoArguments(arguments, "none", value is null),
        ["number"] = (value, arguments) => NoArguments(arguments, "number", JinjaValues.IsNumber(value)),
        ["odd"] = (value, arguments) => NoArguments(arguments, "odd", JinjaValues.ToLong(value) % 2 != 0),
        ["sameas"] = (value, arguments) =>
        {
            var other = arguments.Bind("sameas", ["other"])[0];
            return value is null || other is null || value is bool || value is long ? JinjaValues.Equals(value, other) && JinjaValues.TypeName(value) == JinjaValues.TypeName(other)
                : ReferenceEquals(value, other);
        },
        ["sequence"] = (value, arguments) => NoArguments(arguments, "sequence", value is string or IList or IDictionary or Undefined),
        ["string"] = (value, arguments) => NoArguments(arguments, "string", value is string),
        ["true"] = (value, arguments) => NoArguments(arguments, "true", value is true),
        ["undefined"] = (value, arguments) => NoArguments(arguments, "undefined", value is Undefined),
        ["upper"] = (value, arguments) => NoArguments(arguments, "upper", value is string text && text.ToUpperInvariant() == text),
    };

    public static bool Exists(string name) => All.ContainsKey(name);

    public static bool Apply(string name, object? value, Arguments arguments) =>
        All.TryGetValue(name, out var test) ? test(value, arguments) : throw new JinjaError($"no test named '{name}'");

    private static bool NoArguments(Arguments arguments, string name, bool result)
    {
        arguments.Bind(name, []);
        return result;
    }

    private static bool Equal(object? value, Arguments arguments) => JinjaValues.Equals(value, Other(arguments, "eq"));

    private static object? Other(Arguments arguments, string name) => arguments.Bind(name, ["other"])[0];
}
