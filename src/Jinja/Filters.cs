using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace InferServer.Jinja;

/// <summary>
/// The filters chat templates use, with jinja2 3.1's semantics and argument names (so keyword arguments bind as
/// they do there), and tojson as transformers overrides it.
/// </summary>
internal static partial class Filters
{
    private delegate object? Filter(object? value, Arguments arguments, RenderBudget budget);

    private static readonly Dictionary<string, Filter> All = new(StringComparer.Ordinal)
    {
        ["abs"] = (value, arguments, _) => NoArguments(arguments, "abs", value switch
        {
            long number => (object)checked(Math.Abs(number)),
            double number => Math.Abs(number),
            bool flag => flag ? 1L : 0L,
            _ => throw new JinjaError($"bad operand type for abs(): '{JinjaValues.TypeName(value)}'"),
        }),
        ["attr"] = (value, arguments, budget) => Members.GetAttribute(value, Str(arguments.Bind("attr", ["name"])[0]), budget),
        ["capitalize"] = (value, arguments, _) => NoArguments(arguments, "capitalize", Members.Capitalize(Str(value))),
        ["count"] = Length,
        ["d"] = Default,
        ["default"] = Default,
        ["dictsort"] = DictSort,
        ["e"] = Escape,
        ["escape"] = Escape,
        ["first"] = (value, arguments, _) =>
        {
            arguments.Bind("first", []);
            var items = JinjaValues.Iterate(value);
            return items.Count > 0 ? items[0] : new Undefined("No first item, sequence was empty.");
        },
        ["float"] = (value, arguments, _) =>
        {
            var fallback = arguments.Bind("float", ["default"], [0.0])[0];
            return value switch
            {
                double number => number,
                long or bool => JinjaValues.ToDouble(value),
                string text when double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
                _ => fallback,
            };
        },
        ["indent"] = Indent,
        ["int"] = ToInteger,
        ["items"] = (value, arguments, _) =>
        {
            arguments.Bind("items", []);
            return value switch
            {
                Undefined => new List<object?>(),
                IDictionary dictionary => Members.Items(dictionary),
                _ => throw new JinjaError("Can only get item pairs from a mapping."),
            };
        },
        ["join"] = Join,
        ["last"] = (value, arguments, _) =>
        {
            arguments.Bind("last", []);
            var items = JinjaValues.Iterate(value);
            return items.Count > 0 ? items[^1] : new Undefined("No last item, sequence was empty.");
        },
        ["length"] = Length,
        ["list"] = (value, arguments, _) => NoArguments(arguments, "list", JinjaValues.Iterate(value).ToList()),
        ["lower"] = (value, arguments, _) => NoArguments(arguments, "lower", Str(value).ToLowerInvariant()),
        ["map"] = Map,
        ["max"] = (value, arguments, budget) => Extreme(value, arguments, "max", sign: 1, budget),
        ["min"] = (value, arguments, budget) => Extreme(value, arguments, "min", sign: -1, budget),
        ["reject"] = (value, arguments, budget) => Select(value, arguments, byAttribute: false, keep: false, budget),
        ["rejectattr"] = (value, arguments, budget) => Select(value, arguments, byAttribute: true, keep: false, budget),
        ["replace"] = (value, arguments, budget) =>
        {
            var bound = arguments.Bind("replace", ["old", "new", "count"], [null]);
            var replace = (JinjaFunction)Members.GetAttribute(Str(value), "replace", budget)!;
            return replace.Invoke(new Arguments(bound[2] is null ? [bound[0], bound[1]] : [bound[0], bound[1], bound[2]], new Dictionary<string, object?>()));
        },
        ["reverse"] = (value, arguments, _) =>
        {
            arguments.Bind("reverse", []);
            if (value is string text)
            {
                return string.Concat(JinjaValues.CodePoints(text).Reverse());
            }

            var items = JinjaValues.Iterate(value).ToList();
            items.Reverse();
            return items;
        },
        ["round"] = Round,
        ["safe"] = (value, arguments, _) => NoArguments(arguments, "safe", value is string ? value : JinjaValues.ToStr(value)),
        ["select"] = (value, arguments, budget) => Select(value, arguments, byAttribute: false, keep: true, budget),
        ["selectattr"] = (value, arguments, budget) => Select(value, arguments, byAttribute: true, keep: true, budget),
        ["sort"] = Sort,
        ["string"] = (value, arguments, _) => NoArguments(arguments, "string", JinjaValues.ToStr(value)),
        ["sum"] = Sum,
        ["title"] = (value, arguments, _) => NoArguments(arguments, "title", Title(Str(value))),
        ["tojson"] = ToJson,
        ["trim"] = (value, arguments, _) => Members.Strip(Str(value), arguments.Bind("trim", ["chars"], [null])[0], start: true, end: true),
        ["unique"] = Unique,
        ["upper"] = (value, arguments, _) => NoArguments(arguments, "upper", Str(value).ToUpperInvariant()),
        ["wordcount"] = (value, arguments, _) => NoArguments(arguments, "wordcount", (long)WordPattern().Count(Str(value))),
    };

    public static bool Exists(string name) => All.ContainsKey(name);

    public static object? Apply(string name, object? value, Arguments arguments, RenderBudget budget) =>
        All.TryGetValue(name, out var filter) ? filter(value, arguments, budget) : throw new JinjaError($"no filter named '{name}'");

    // jinja2's soft_str: str() of the value, Undefined as "".
    private static string Str(object? value) => JinjaValues.ToStr(value);

    private static object? NoArguments(Arguments arguments, string name, object? result)
    {
        arguments.Bind(name, []);
        return result;
    }

    private static object? Length(object? value, Arguments arguments, RenderBudget budget) =>
        NoArguments(arguments, "length", JinjaValues.Length(value));

    private static object? Default(object? value, Arguments arguments, RenderBudget budget)
    {
        var bound = arguments.Bind("default", ["default_value", "boolean"], ["", false]);
        var useDefault = value is Undefined || (JinjaValues.IsTrue(bound[1]) && !JinjaValues.IsTrue(value));
        return useDefault ? bound[0] : value;
    }

    private static object? Escape(object? value, Arguments arguments, RenderBudget budget)
    {
        arguments.Bind("escape", []);
        return Str(value).Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal).Replace("'", "&#39;", StringComparison.Ordinal).Replace("\"", "&#34;", StringComparison.Ordinal);
    }

    // jinja2's indent: the first line only with first=True, blank lines only with blank=True.
    private static object? Indent(object? value, Arguments arguments, RenderBudget budget)
    {
        var bound = arguments.Bind("indent", ["width", "first", "blank"], [4L, false, false]);
        var indentation = bound[0] is string text ? text : new string(' ', (int)Math.Clamp(JinjaValues.ToLong(bound[0]), 0, 1024));
        var input = Str(value);
        var lines = Members.SplitLines(input + "\n").Cast<string>().ToList();
        budget.CheckSize(input.Length + (double)lines.Count * indentation.Length);
        string result;
        if (JinjaValues.IsTrue(bound[2]))
        {
            result = string.Join("\n" + indentation, lines);
        }
        else
        {
            result = lines[0];
            if (lines.Count > 1)
            {
                result += "\n" + string.Join("\n", lines.Skip(1).Select(line => line.Length > 0 ? indentation + line : line));
            }
        }
        if (JinjaValues.IsTrue(bound[1]))
        {
            result = indentation + result;
        }

        return budget.Checked(result);
    }

    private static object? ToInteger(object? value, Arguments arguments, RenderBudget budget)
    {
        var bound = arguments.Bind("int", ["default", "base"], [0L, 10L]);
        switch (value)
        {
            case long or bool:
                return JinjaValues.ToLong(value);
            case double number when !double.IsNaN(number) && !double.IsInfinity(number):
                return (long)Math.Truncate(number);
            case string text:
                var trimmed = text.Trim().Replace("_", "", StringComparison.Ordinal);
                var numberBase = (int)JinjaValues.ToLong(bound[1]);
                try
                {
                    if (numberBase == 10 && long.TryParse(trimmed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
                    {
                        return parsed;
                    }

                    if (numberBase is 2 or 8 or 16)
                    {
                        return Convert.ToInt64(trimmed, numberBase);
                    }
                }
                catch (FormatException)
                {
                    return bound[0];
                }
                return double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && !double.IsInfinity(real)
                    ? (long)Math.Truncate(real) : bound[0];
            default:
                return bound[0];
        }
    }

    private static object? Join(object? value, Arguments arguments, RenderBudget budget)
    {
        var bound = arguments.Bind("join", ["d", "attribute"], ["", null]);
        var items = JinjaValues.Iterate(value);
        if (bound[1] is not null)
        {
            items = [.. items.Select(item => Attribute(item, bound[1], budget))];
        }

        var separator = Str(bound[0]);
        var result = new StringBuilder();
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                result.Append(separator);
            }

            result.Append(Str(items[i]));
            budget.CheckSize(result.Length);
        }
        return result.ToString();
    }

    // jinja2 attribute paths are dotted ("a.b") and may index with integers ("items.0").
    private static object? Attribute(object? item, object? path, RenderBudget budget)
    {
        if (path is long index)
        {
            return Members.GetItem(item, index, budget);
        }

        foreach (var part in Str(path).Split('.'))
        {
            item = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var position)
                ? Members.GetItem(item, position, budget) : Members.GetItem(item, part, budget);
        }
        return item;
    }

    private static object? Map(object? value, Arguments arguments, RenderBudget budget)
    {
        var items = JinjaValues.Iterate(value);
        if (arguments.Positional.Count == 0 && arguments.Keyword.ContainsKey("attribute"))
        {
            var bound = arguments.Bind("map", ["attribute", "default"], [null]);
            var fallback = bound[1];
            return items.Select(item =>
            {
                var mapped = Attribute(item, bound[0], budget);
                return mapped is Undefined && arguments.Keyword.ContainsKey("default") ? fallback : mapped;
            }).ToList();
        }
        if (arguments.Positional.Count == 0)
        {
            throw new JinjaError("map requires a filter argument");
        }

        var name = arguments.Positional[0] as string ?? throw new JinjaError("map: the filter name must be a string");
        var rest = new Arguments(arguments.Positional.Skip(1).ToList(), arguments.Keyword);
        return items.Select(item => Apply(name, item, rest, budget)).ToList();
    }

    // select/reject(test, args…) and selectattr/rejectattr(attribute, test, args…); no test means truthiness.
    private static object? Select(object? value, Arguments arguments, bool byAttribute, bool keep, RenderBudget budget)
    {
        var positional = arguments.Positional;
        object? attribute = null;
        if (byAttribute)
        {
            if (positional.Count == 0)
            {
                throw new JinjaError("selectattr/rejectattr need an attribute name");
            }

            attribute = positional[0];
            positional = positional.Skip(1).ToList();
        }
        Func<object?, bool> test;
        if (positional.Count == 0)
        {
            test = JinjaValues.IsTrue;
        }
        else
        {
            var name = positional[0] as string ?? throw new JinjaError("the test name must be a string");
            var testArguments = new Arguments(positional.Skip(1).ToList(), arguments.Keyword);
            test = item => Tests.Apply(name, item, testArguments);
        }
        return JinjaValues.Iterate(value)
            .Where(item => test(byAttribute ? Attribute(item, attribute, budget) : item) == keep)
            .ToList();
    }

    private static object? Sort(object? value, Arguments arguments, RenderBudget budget)
    {
        var bound = arguments.Bind("sort", ["reverse", "case_sensitive", "attribute"], [false, false, null]);
        var caseSensitive = JinjaValues.IsTrue(bound[1]);
        object? Key(object? item)
        {
            var key = bound[2] is null ? item : Attribute(item, bound[2], budget);
            return !caseSensitive && key is string text ? text.ToLowerInvariant() : key;
        }
        var items = JinjaValues.Iterate(value).Select((item, position) => (Item: item, Key: Key(item), Position: position)).ToList();
        var descending = JinjaValues.IsTrue(bound[0]);
        // A stable sort, like Python's.
        items.Sort((a, b) =>
        {
            var order = JinjaValues.Compare(a.Key, b.Key, "<");
            if (descending)
            {
                order = -order;
            }

            return order != 0 ? order : a.Position.CompareTo(b.Position);
        });
        return items.Select(entry => entry.Item).ToList();
    }

    private static object? DictSort(object? value, Arguments arguments, RenderBudget budget)
    {
        var bound = arguments.Bind("dictsort", ["case_sensitive", "by", "reverse"], [false, "key", false]);
        if (value is not IDictionary dictionary)
        {
            throw new JinjaError("dictsort expects a mapping");
        }

        var byValue = Str(bound[1]) == "value";
        var items = Members.Items(dictionary);
        var sortArguments = new Dictionary<string, object?> { ["reverse"] = bound[2], ["case_sensitive"] = bound[0], ["attribute"] = byValue ? 1L : 0L };
        return Sort(items, new Arguments([], sortArguments), budget);
    }

    private static object? Unique(object? value, Arguments arguments, RenderBudget budget)
    {
        var bound = arguments.Bind("unique", ["case_sensitive", "attribute"], [false, null]);
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var item in JinjaValues.Iterate(value))
        {
            var key = bound[1] is null ? item : Attribute(item, bound[1], budget);
            if (!JinjaValues.IsTrue(bound[0]) && key is string text)
            {
                key = text.ToLowerInvariant();
            }

            if (seen.Any(other => JinjaValues.Equals(other, key)))
            {
                continue;
            }

            seen.Add(key);
            result.Add(item);
        }
        return result;
    }

    private static object? Extreme(object? value, Arguments arguments, string name, int sign, RenderBudget budget)
    {
        var bound = arguments.Bind(name, ["case_sensitive", "attribute"], [false, null]);
        object? best = null;
        object? bestKey = null;
        var any = false;
        foreach (var item in JinjaValues.Iterate(value))
        {
            var key = bound[1] is null ? item : Attribute(item, bound[1], budget);
            if (!JinjaValues.IsTrue(bound[0]) && key is string text)
            {
                key = text.ToLowerInvariant();
            }

            if (!any || JinjaValues.Compare(key, bestKey, "<") * sign > 0)
            {
                best = item;
                bestKey = key;
                any = true;
            }
        }
        return any ? best : new Undefined($"No aggregated item, sequence was empty.");
    }

    private static object? Sum(object? value, Arguments arguments, RenderBudget budget)
    {
        var bound = arguments.Bind("sum", ["attribute", "start"], [null, 0L]);
        var total = bound[1];
        foreach (var item in JinjaValues.Iterate(value))
        {
            total = Operators.Binary("+", total, bound[0] is null ? item : Attribute(item, bound[0], budget), budget);
        }

        return total;
    }

    private static object? Round(object? value, Arguments arguments, RenderBudget budget)
    {
        var bound = arguments.Bind("round", ["precision", "method"], [0L, "common"]);
        var number = JinjaValues.ToDouble(value);
        var precision = (int)Math.Clamp(JinjaValues.ToLong(bound[0]), -15, 15);
        var scale = Math.Pow(10, precision);
        return Str(bound[1]) switch
        {
            // jinja2's "common" is Python's round(): half to even.
            "common" => precision >= 0 ? Math.Round(number, precision, MidpointRounding.ToEven) : Math.Round(number * scale, MidpointRounding.ToEven) / scale,
            "ceil" => Math.Ceiling(number * scale) / scale,
            "floor" => Math.Floor(number * scale) / scale,
            _ => throw new JinjaError("method must be common, ceil or floor"),
        };
    }

    // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
    private static object? ToJson(object? value, Arguments arguments, RenderBudget budget)
    {
        var bound = arguments.Bind("tojson", ["ensure_ascii", "indent", "separators", "sort_keys"], [false, null, null, false]);
        return JinjaJson.Serialize(value, JinjaValues.IsTrue(bound[0]), bound[1], bound[2], JinjaValues.IsTrue(bound[3]), budget);
    }

    // jinja2's title filter: upper-cases the first letter of each word, words split at spaces, dashes and brackets.
    private static string Title(string text) =>
        string.Concat(WordBeginning().Split(text).Where(part => part.Length > 0)
            .Select(part => char.ToUpperInvariant(part[0]) + part[1..].ToLowerInvariant()));

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginning();

    [GeneratedRegex(@"\w+")]
    private static partial Regex WordPattern();
}
