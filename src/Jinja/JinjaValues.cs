using System.Collections;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace InferServer.Jinja;

/// <summary>
/// Python semantics over the values templates see. None is null; booleans, integers (long), floats (double) and
/// strings are themselves; lists are <see cref="List{T}"/> of object?, tuples object?[], dicts
/// <see cref="Dictionary{TKey, TValue}"/> of object → object? (insertion-ordered, like Python's); plus
/// <see cref="Undefined"/>, <see cref="Namespace"/>, <see cref="JinjaFunction"/> and <see cref="LoopContext"/>.
/// </summary>
internal static class JinjaValues
{
    public static bool IsTrue(object? value) => value switch
    {
        null or Undefined => false,
        bool flag => flag,
        long number => number != 0,
        double number => number != 0,
        string text => text.Length > 0,
        ICollection collection => collection.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;

    /// <summary>Python's type name, as error messages show it.</summary>
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        object?[] => "tuple",
        IList => "list",
        IDictionary => "dict",
        Namespace => "Namespace",
        JinjaFunction => "function",
        LoopContext => "LoopContext",
        _ => value.GetType().Name,
    };

    /// <summary>jinja2's object_type_repr, quoted: "'dict object'", "'None'".</summary>
    public static string ObjectDescription(object? value) => value is null ? "'None'" : $"'{TypeName(value)} object'";

    /// <summary>Python's str(): what {{ value }} prints. Undefined prints as nothing.</summary>
    public static string ToStr(object? value) => value switch
    {
        string text => text,
        null => "None",
        Undefined => "",
        bool flag => flag ? "True" : "False",
        long number => number.ToString(CultureInfo.InvariantCulture),
        double number => FormatFloat(number),
        _ => Repr(value),
    };

    /// <summary>Python's repr(): how values look inside printed lists and dicts.</summary>
    public static string Repr(object? value)
    {
        // Values can nest (a namespace holding itself, a list wrapped 20,000 times): fail before the stack runs out.
        RuntimeHelpers.EnsureSufficientExecutionStack();
        switch (value)
        {
            case string text:
                return ReprString(text);
            case object?[] tuple:
                return tuple.Length == 1 ? $"({Repr(tuple[0])},)" : JoinRepr("(", tuple.Select(Repr), ")");
            case IList list:
                return JoinRepr("[", list.Cast<object?>().Select(Repr), "]");
            case IDictionary dictionary:
                return JoinRepr("{", dictionary.Keys.Cast<object>().Select(key => $"{Repr(key)}: {Repr(dictionary[key])}"), "}");
            case Namespace ns:
                return "<Namespace " + Repr(ns.Attributes.ToDictionary(pair => (object)pair.Key, pair => pair.Value)) + ">";
            case Undefined:
                return "Undefined";
            case JinjaFunction function:
                return function.ToString();
            case LoopContext:
                return "<LoopContext>";
            default:
                return ToStr(value);
        }
    }

    /// <summary>Most characters a printed list, tuple or dict may have; its items are joined within this, so a list of
    /// millions of long strings fails here rather than after allocating gigabytes.</summary>
    private const int MaxReprChars = 4 * 1024 * 1024;

    private static string JoinRepr(string open, IEnumerable<string> items, string close)
    {
        var text = new StringBuilder(open);
        var first = true;
        foreach (var item in items)
        {
            if (text.Length + item.Length + 2 > MaxReprChars)
            {
                throw new JinjaError($"the value is too large to print (over {MaxReprChars} characters)");
            }

            if (!first)
            {
                text.Append(", ");
            }

            text.Append(item);
            first = false;
        }
        return text.Append(close).ToString();
    }

    // Python picks single quotes unless the text has a single quote and no double quote.
    private static string ReprString(string text)
    {
        var quote = text.Contains('\'') && !text.Contains('"') ? '"' : '\'';
        var result = new StringBuilder().Append(quote);
        foreach (var rune in text.EnumerateRunes())
        {
            switch (rune.Value)
            {
                case '\\': result.Append("\\\\"); break;
                case '\n': result.Append("\\n"); break;
                case '\r': result.Append("\\r"); break;
                case '\t': result.Append("\\t"); break;
                case var c when c == quote: result.Append('\\').Append(quote); break;
                case < 0x20 or 0x7F: result.Append(CultureInfo.InvariantCulture, $"\\x{rune.Value:x2}"); break;
                default: result.Append(rune.ToString()); break;
            }
        }
        return result.Append(quote).ToString();
    }

    /// <summary>Python's repr of a float: the shortest text that reads back as the same double, in positional
    /// notation for exponents from -4 to 15 (always with a fractional part) and scientific otherwise.</summary>
    public static string FormatFloat(double value)
    {
        if (double.IsNaN(value))
        {
            return "nan";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "inf" : "-inf";
        }

        if (value == 0)
        {
            return double.IsNegative(value) ? "-0.0" : "0.0";
        }
        // Round-trip digits: "R" gives the shortest form; reparse it into digits and a decimal exponent.
        var roundTrip = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        string digits;
        int exponent;
        var e = roundTrip.IndexOfAny(['E', 'e']);
        var mantissa = e >= 0 ? roundTrip[..e] : roundTrip;
        var power = e >= 0 ? int.Parse(roundTrip[(e + 1)..], CultureInfo.InvariantCulture) : 0;
        var dot = mantissa.IndexOf('.');
        var integerPart = dot >= 0 ? mantissa[..dot] : mantissa;
        var fraction = dot >= 0 ? mantissa[(dot + 1)..] : "";
        digits = (integerPart + fraction).TrimStart('0');
        var leadingZeros = (integerPart + fraction).Length - digits.Length;
        // value = 0.digits × 10^exponent
        exponent = integerPart.Length - leadingZeros + power;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0)
        {
            digits = "0";
        }

        var sign = value < 0 ? "-" : "";
        if (exponent > -4 && exponent <= 16)
        {
            string text;
            if (exponent <= 0)
            {
                text = "0." + new string('0', -exponent) + digits;
            }
            else if (exponent >= digits.Length)
            {
                text = digits + new string('0', exponent - digits.Length) + ".0";
            }
            else
            {
                text = digits[..exponent] + "." + digits[exponent..];
            }

            return sign + text;
        }
        var scientific = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
        var shown = exponent - 1;
        return sign + scientific + "e" + (shown < 0 ? "-" : "+") + Math.Abs(shown).ToString("00", CultureInfo.InvariantCulture);
    }

    /// <summary>Python ==: numbers by value (True == 1), strings ordinally, lists and dicts element by element.</summary>
    public static new bool Equals(object? left, object? right)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        if (left is null || right is null)
        {
            return left is null && right is null;
        }

        if (IsNumber(left) && IsNumber(right))
        {
            if (left is double || right is double)
            {
                return ToDouble(left) == ToDouble(right);
            }

            return ToLong(left) == ToLong(right);
        }
        switch (left)
        {
            case string text:
                return right is string other && string.Equals(text, other, StringComparison.Ordinal);
            case Undefined:
                return right is Undefined;
            case object?[] tuple:
                return right is object[] otherTuple && SequenceEquals(tuple, otherTuple);
            case IList list when list is not object[]:
                return right is IList otherList and not object[] && SequenceEquals(list, otherList);
            case IDictionary dictionary:
                if (right is not IDictionary otherDictionary || dictionary.Count != otherDictionary.Count)
                {
                    return false;
                }

                foreach (DictionaryEntry entry in dictionary)
                {
                    if (!otherDictionary.Contains(entry.Key) || !Equals(entry.Value, otherDictionary[entry.Key]))
                    {
                        return false;
                    }
                }
                return true;
            default:
                return ReferenceEquals(left, right);
        }
    }

    private static bool SequenceEquals(IList left, IList right)
    {
        if (left.Count != right.Count)
        {
            return false;
        }

        for (var i = 0; i < left.Count; i++)
        {
            if (!Equals(left[i], right[i]))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Python ordering (&lt; and friends): numbers, strings (by code point), lists element by element.</summary>
    public static int Compare(object? left, object? right, string op)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        if (IsNumber(left) && IsNumber(right))
        {
            if (left is double || right is double)
            {
                return ToDouble(left).CompareTo(ToDouble(right));
            }

            return ToLong(left).CompareTo(ToLong(right));
        }
        if (left is string a && right is string b)
        {
            return string.CompareOrdinal(a, b);
        }

        if (left is IList x && right is IList y && (left is object[]) == (right is object[]))
        {
            for (var i = 0; i < Math.Min(x.Count, y.Count); i++)
            {
                if (!Equals(x[i], y[i]))
                {
                    return Compare(x[i], y[i], op);
                }
            }
            return x.Count.CompareTo(y.Count);
        }
        if (left is Undefined undefined)
        {
            throw undefined.Fail();
        }

        if (right is Undefined otherUndefined)
        {
            throw otherUndefined.Fail();
        }

        throw new JinjaError($"'{op}' not supported between instances of '{TypeName(left)}' and '{TypeName(right)}'");
    }

    public static long ToLong(object? value) => value switch
    {
        bool flag => flag ? 1 : 0,
        long number => number,
        _ => throw new JinjaError($"expected an integer, got {TypeName(value)}"),
    };

    public static double ToDouble(object? value) => value switch
    {
        bool flag => flag ? 1 : 0,
        long number => number,
        double number => number,
        _ => throw new JinjaError($"expected a number, got {TypeName(value)}"),
    };

    /// <summary>Python iteration: list and tuple items, dict keys, a string's characters; Undefined is empty.</summary>
    public static IReadOnlyList<object?> Iterate(object? value) => value switch
    {
        List<object?> list => list,
        object?[] tuple => tuple,
        string text => [.. CodePoints(text)],
        IDictionary dictionary => [.. dictionary.Keys.Cast<object?>()],
        IList list => [.. list.Cast<object?>()],
        Undefined => [],
        Namespace => throw new JinjaError("'Namespace' object is not iterable"),
        _ => throw new JinjaError($"'{TypeName(value)}' object is not iterable"),
    };

    public static long Length(object? value) => value switch
    {
        string text => CodePointCount(text),
        ICollection collection => collection.Count,
        Undefined => 0,
        _ => throw new JinjaError($"object of type '{TypeName(value)}' has no len()"),
    };

    /// <summary>A string as Python indexes it: one entry per code point.</summary>
    public static IReadOnlyList<string> CodePoints(string text)
    {
        var points = new List<string>(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            points.Add(rune.ToString());
        }

        return points;
    }

    public static int CodePointCount(string text)
    {
        var count = 0;
        foreach (var _ in text.EnumerateRunes())
        {
            count++;
        }

        return count;
    }

    /// <summary>Turns CLR values and JSON into template values: ints widen to long, floats to double, dictionaries
    /// and lists are copied into the template's own types.</summary>
    public static object? From(object? value) => value switch
    {
        null or string or bool or long or double or Undefined or Namespace or JinjaFunction => value,
        int number => (object)(long)number,
        short number => (long)number,
        float number => (double)number,
        decimal number => (double)number,
        JsonElement element => FromJson(element),
        IDictionary dictionary => FromDictionary(dictionary),
        IEnumerable sequence => sequence.Cast<object?>().Select(From).ToList(),
        _ => value.ToString(),
    };

    private static Dictionary<object, object?> FromDictionary(IDictionary dictionary)
    {
        var result = new Dictionary<object, object?>();
        foreach (DictionaryEntry entry in dictionary)
        {
            result[From(entry.Key) ?? "None"] = From(entry.Value);
        }

        return result;
    }

    private static object? FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => element.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.Number => element.TryGetInt64(out var integer) && !element.GetRawText().Contains('.') && !element.GetRawText().Contains('e', StringComparison.OrdinalIgnoreCase)
            ? (object)integer : element.GetDouble(),
        JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        _ => element.EnumerateObject().ToDictionary(property => (object)property.Name, property => FromJson(property.Value)),
    };

    /// <summary>A value usable as a dictionary key (None and unhashable lists are not).</summary>
    public static object Key(object? key) => key switch
    {
        null => throw new JinjaError("None as a dict key is not supported"),
        Undefined undefined => throw undefined.Fail(),
        IList and not object[] or IDictionary => throw new JinjaError($"unhashable type: '{TypeName(key)}'"),
        _ => key,
    };
}
