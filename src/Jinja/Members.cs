using System.Collections;
using System.Text;

namespace InferServer.Jinja;

/// <summary>
/// Attribute and item access as jinja2's sandbox does it: <c>x.name</c> tries the attribute (a method of str, dict
/// or list) and then the item; <c>x[key]</c> tries the item and then, for a string key, the attribute. What is
/// missing is <see cref="Undefined"/>. Methods are Python's non-mutating ones: the immutable sandbox transformers
/// uses refuses append, pop, update and the like.
/// </summary>
internal static class Members
{
    private static readonly HashSet<string> MutatingMethods =
        ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "setdefault", "popitem"];

    public static object? GetAttribute(object? target, string name, RenderBudget budget)
    {
        switch (target)
        {
            case Undefined undefined:
                throw undefined.Fail();
            case Namespace ns:
                return ns.Attributes.TryGetValue(name, out var attribute) ? attribute : Undefined.Attribute(target, name);
            case LoopContext loop:
                return loop.Attribute(name);
            case string text:
                return (object?)StringMethod(text, name, budget) ?? Undefined.Attribute(target, name);
            case IDictionary dictionary:
                if (DictionaryMethod(dictionary, name) is { } method)
                {
                    return method;
                }

                if (dictionary.Contains(name))
                {
                    return dictionary[name];
                }

                if (MutatingMethods.Contains(name))
                {
                    throw Unsafe(target, name);
                }

                return Undefined.Attribute(target, name);
            case IList list:
                if (MutatingMethods.Contains(name) && list is not object[])
                {
                    throw Unsafe(target, name);
                }

                return (object?)ListMethod(list, name) ?? Undefined.Attribute(target, name);
            default:
                return Undefined.Attribute(target, name);
        }
    }

    private static JinjaError Unsafe(object target, string name) =>
        new($"access to attribute '{name}' of '{JinjaValues.TypeName(target)}' object is unsafe");

    public static object? GetItem(object? target, object? key, RenderBudget budget)
    {
        switch (target)
        {
            case Undefined undefined:
                throw undefined.Fail();
            case IDictionary dictionary when key is not null && key is not Undefined && key is not IList && key is not IDictionary:
                if (dictionary.Contains(key))
                {
                    return dictionary[key];
                }

                if (key is double real && real == Math.Floor(real) && dictionary.Contains((long)real))
                {
                    return dictionary[(long)real];
                }

                if (key is long integer && dictionary.Contains((double)integer))
                {
                    return dictionary[(double)integer];
                }

                break;
            case IList list when key is long or bool:
                var index = JinjaValues.ToLong(key);
                if (index < 0)
                {
                    index += list.Count;
                }

                return index >= 0 && index < list.Count ? list[(int)index] : Undefined.Item(target, key);
            case string text when key is long or bool:
                var points = JinjaValues.CodePoints(text);
                var position = JinjaValues.ToLong(key);
                if (position < 0)
                {
                    position += points.Count;
                }

                return position >= 0 && position < points.Count ? points[(int)position] : Undefined.Item(target, key);
        }
        if (key is Undefined undefinedKey)
        {
            throw undefinedKey.Fail();
        }

        return key is string name ? GetAttribute(target, name, budget) : Undefined.Item(target, key);
    }

    /// <summary>Python slicing of a list, tuple or string.</summary>
    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        switch (target)
        {
            case Undefined undefined:
                throw undefined.Fail();
            case string text:
                var points = JinjaValues.CodePoints(text);
                var builder = new StringBuilder();
                foreach (var i in SliceIndices(points.Count, start, stop, step))
                {
                    builder.Append(points[i]);
                }

                return builder.ToString();
            case object?[] tuple:
                return SliceIndices(tuple.Length, start, stop, step).Select(i => tuple[i]).ToArray();
            case IList list:
                return SliceIndices(list.Count, start, stop, step).Select(i => list[i]).ToList();
            default:
                throw new JinjaError($"'{JinjaValues.TypeName(target)}' object is not subscriptable");
        }
    }

    // slice.indices: clamp start and stop into the sequence, counting negative ones from its end.
    private static IEnumerable<int> SliceIndices(int length, object? startValue, object? stopValue, object? stepValue)
    {
        var step = Bound(stepValue) ?? 1;
        if (step == 0)
        {
            throw new JinjaError("slice step cannot be zero");
        }

        long Clamp(long? value, long low, long high, long fallback)
        {
            if (value is not { } given)
            {
                return fallback;
            }

            if (given < 0)
            {
                given += length;
            }

            return Math.Clamp(given, low, high);
        }
        if (step > 0)
        {
            var start = Clamp(Bound(startValue), 0, length, 0);
            var stop = Clamp(Bound(stopValue), 0, length, length);
            for (var i = start; i < stop; i += step)
            {
                yield return (int)i;
            }
        }
        else
        {
            var start = Clamp(Bound(startValue), -1, length - 1, length - 1);
            var stop = Clamp(Bound(stopValue), -1, length - 1, -1);
            for (var i = start; i > stop; i += step)
            {
                yield return (int)i;
            }
        }
    }

    private static long? Bound(object? value) => value switch
    {
        null => null,
        long or bool => JinjaValues.ToLong(value),
        Undefined undefined => throw undefined.Fail(),
        _ => throw new JinjaError("slice indices must be integers or None"),
    };

    private static JinjaFunction? DictionaryMethod(IDictionary dictionary, string name) => name switch
    {
        "items" => new JinjaFunction("dict.items", arguments =>
        {
            arguments.Bind("items", []);
            return Items(dictionary);
        }),
        "keys" => new JinjaFunction("dict.keys", arguments =>
        {
            arguments.Bind("keys", []);
            return dictionary.Keys.Cast<object?>().ToList();
        }),
        "values" => new JinjaFunction("dict.values", arguments =>
        {
            arguments.Bind("values", []);
            return dictionary.Values.Cast<object?>().ToList();
        }),
        "get" => new JinjaFunction("dict.get", arguments =>
        {
            var bound = arguments.Bind("get", ["key", "default"], [null]);
            var key = JinjaValues.Key(bound[0]);
            return dictionary.Contains(key) ? dictionary[key] : bound[1];
        }),
        _ => null,
    };

    public static List<object?> Items(IDictionary dictionary)
    {
        var items = new List<object?>(dictionary.Count);
        foreach (DictionaryEntry entry in dictionary)
        {
            items.Add(new object?[] { entry.Key, entry.Value });
        }

        return items;
    }

    private static JinjaFunction? ListMethod(IList list, string name) => name switch
    {
        "index" => new JinjaFunction("list.index", arguments =>
        {
            var item = arguments.Bind("index", ["value"])[0];
            for (var i = 0; i < list.Count; i++)
            {
                if (JinjaValues.Equals(list[i], item))
                {
                    return (long)i;
                }
            }
            throw new JinjaError($"{JinjaValues.Repr(item)} is not in list");
        }),
        "count" => new JinjaFunction("list.count", arguments =>
        {
            var item = arguments.Bind("count", ["value"])[0];
            return (long)list.Cast<object?>().Count(element => JinjaValues.Equals(element, item));
        }),
        _ => null,
    };

    private static JinjaFunction? StringMethod(string text, string name, RenderBudget budget)
    {
        Func<Arguments, object?>? method = name switch
        {
            "strip" => arguments => Strip(text, arguments.Bind("strip", ["chars"], [null])[0], start: true, end: true),
            "lstrip" => arguments => Strip(text, arguments.Bind("lstrip", ["chars"], [null])[0], start: true, end: false),
            "rstrip" => arguments => Strip(text, arguments.Bind("rstrip", ["chars"], [null])[0], start: false, end: true),
            "split" => arguments =>
            {
                var bound = arguments.Bind("split", ["sep", "maxsplit"], [null, -1L]);
                return Split(text, bound[0], JinjaValues.ToLong(bound[1]));
            }
            ,
            "rsplit" => arguments =>
            {
                var bound = arguments.Bind("rsplit", ["sep", "maxsplit"], [null, -1L]);
                return RightSplit(text, bound[0], JinjaValues.ToLong(bound[1]));
            }
            ,
            "splitlines" => arguments =>
            {
                arguments.Bind("splitlines", []);
                return SplitLines(text);
            }
            ,
            "startswith" => arguments => Affix(text, arguments.Bind("startswith", ["prefix"])[0], (s, p) => s.StartsWith(p, StringComparison.Ordinal)),
            "endswith" => arguments => Affix(text, arguments.Bind("endswith", ["suffix"])[0], (s, p) => s.EndsWith(p, StringComparison.Ordinal)),
            "upper" => arguments => NoArguments(arguments, "upper", text.ToUpperInvariant()),
            "lower" => arguments => NoArguments(arguments, "lower", text.ToLowerInvariant()),
            "title" => arguments => NoArguments(arguments, "title", PythonTitle(text)),
            "capitalize" => arguments => NoArguments(arguments, "capitalize", Capitalize(text)),
            "replace" => arguments =>
            {
                var bound = arguments.Bind("replace", ["old", "new", "count"], [-1L]);
                var (old, replacement, count) = (Text(bound[0], "replace"), Text(bound[1], "replace"), JinjaValues.ToLong(bound[2]));
                if (replacement.Length > old.Length)
                {
                    // Only a longer replacement can grow the text; size it before building it.
                    var occurrences = (double)(old.Length == 0 ? text.Length + 1 : Count(text, old));
                    if (count >= 0)
                    {
                        occurrences = Math.Min(occurrences, count);
                    }

                    budget.CheckSize(text.Length + occurrences * (replacement.Length - old.Length));
                }
                return Replace(text, old, replacement, count);
            }
            ,
            "find" => arguments => (long)CodePointIndex(text, text.IndexOf(Text(arguments.Bind("find", ["sub"])[0], "find"), StringComparison.Ordinal)),
            "rfind" => arguments => (long)CodePointIndex(text, text.LastIndexOf(Text(arguments.Bind("rfind", ["sub"])[0], "rfind"), StringComparison.Ordinal)),
            "count" => arguments => (long)Count(text, Text(arguments.Bind("count", ["sub"])[0], "count")),
            "join" => arguments =>
            {
                var items = JinjaValues.Iterate(arguments.Bind("join", ["iterable"])[0]).Select(item =>
                    item as string ?? throw new JinjaError($"sequence item: expected str instance, {JinjaValues.TypeName(item)} found")).ToList();
                budget.CheckSize(items.Sum(item => (double)item.Length) + Math.Max(0, items.Count - 1) * (double)text.Length);
                return string.Join(text, items);
            }
            ,
            "isdigit" => arguments => NoArguments(arguments, "isdigit", text.Length > 0 && text.All(char.IsDigit)),
            "isalpha" => arguments => NoArguments(arguments, "isalpha", text.Length > 0 && text.All(char.IsLetter)),
            "isalnum" => arguments => NoArguments(arguments, "isalnum", text.Length > 0 && text.All(char.IsLetterOrDigit)),
            "isspace" => arguments => NoArguments(arguments, "isspace", text.Length > 0 && text.All(char.IsWhiteSpace)),
            "islower" => arguments => NoArguments(arguments, "islower", text.Any(char.IsLetter) && !text.Any(char.IsUpper)),
            "isupper" => arguments => NoArguments(arguments, "isupper", text.Any(char.IsLetter) && !text.Any(char.IsLower)),
            _ => null,
        };
        return method is null ? null : new JinjaFunction("str." + name, method);
    }

    private static object? NoArguments(Arguments arguments, string name, object? result)
    {
        arguments.Bind(name, []);
        return result;
    }

    private static string Text(object? value, string function) =>
        value as string ?? throw new JinjaError($"{function}() argument must be str, not {JinjaValues.TypeName(value)}");

    private static int CodePointIndex(string text, int charIndex) =>
        charIndex < 0 ? -1 : JinjaValues.CodePointCount(text[..charIndex]);

    private static int Count(string text, string part)
    {
        if (part.Length == 0)
        {
            return JinjaValues.CodePointCount(text) + 1;
        }

        var count = 0;
        for (var index = text.IndexOf(part, StringComparison.Ordinal); index >= 0; index = text.IndexOf(part, index + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>Python's str.strip family: whitespace, or any of <paramref name="chars"/>.</summary>
    public static string Strip(string text, object? chars, bool start, bool end)
    {
        if (chars is Undefined undefined)
        {
            throw undefined.Fail();
        }

        if (chars is not null and not string)
        {
            throw new JinjaError($"strip arg must be None or str, not {JinjaValues.TypeName(chars)}");
        }

        var set = chars as string;
        bool Strippable(char c) => set is null ? char.IsWhiteSpace(c) : set.Contains(c);
        var first = 0;
        var last = text.Length;
        if (start)
        {
            while (first < last && Strippable(text[first]))
            {
                first++;
            }
        }
        if (end)
        {
            while (last > first && Strippable(text[last - 1]))
            {
                last--;
            }
        }
        return text[first..last];
    }

    private static List<object?> Split(string text, object? separator, long maxSplit)
    {
        if (separator is null)
        {
            return SplitWhitespace(text, maxSplit);
        }

        var sep = Text(separator, "split");
        if (sep.Length == 0)
        {
            throw new JinjaError("empty separator");
        }

        var parts = new List<object?>();
        var start = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            var index = text.IndexOf(sep, start, StringComparison.Ordinal);
            if (index < 0)
            {
                break;
            }

            parts.Add(text[start..index]);
            start = index + sep.Length;
        }
        parts.Add(text[start..]);
        return parts;
    }

    private static List<object?> SplitWhitespace(string text, long maxSplit)
    {
        var parts = new List<object?>();
        var index = 0;
        while (true)
        {
            while (index < text.Length && char.IsWhiteSpace(text[index]))
            {
                index++;
            }

            if (index >= text.Length)
            {
                break;
            }

            if (maxSplit >= 0 && parts.Count >= maxSplit)
            {
                parts.Add(text[index..].TrimEnd());
                break;
            }
            var start = index;
            while (index < text.Length && !char.IsWhiteSpace(text[index]))
            {
                index++;
            }

            parts.Add(text[start..index]);
        }
        return parts;
    }

    private static List<object?> RightSplit(string text, object? separator, long maxSplit)
    {
        if (maxSplit < 0)
        {
            return Split(text, separator, maxSplit);
        }

        if (separator is null)
        {
            var words = new List<object?>();
            var index = text.Length;
            while (true)
            {
                while (index > 0 && char.IsWhiteSpace(text[index - 1]))
                {
                    index--;
                }

                if (index == 0)
                {
                    break;
                }

                if (words.Count >= maxSplit)
                {
                    words.Insert(0, text[..index].TrimStart());
                    break;
                }
                var wordEnd = index;
                while (index > 0 && !char.IsWhiteSpace(text[index - 1]))
                {
                    index--;
                }

                words.Insert(0, text[index..wordEnd]);
            }
            return words;
        }
        var sep = Text(separator, "rsplit");
        if (sep.Length == 0)
        {
            throw new JinjaError("empty separator");
        }

        var parts = new List<object?>();
        var stop = text.Length;
        while (parts.Count < maxSplit)
        {
            var index = stop - sep.Length >= 0 ? text.LastIndexOf(sep, stop - 1, StringComparison.Ordinal) : -1;
            if (index < 0 || index + sep.Length > stop)
            {
                break;
            }

            parts.Insert(0, text[(index + sep.Length)..stop]);
            stop = index;
        }
        parts.Insert(0, text[..stop]);
        return parts;
    }

    internal static List<object?> SplitLines(string text)
    {
        var lines = new List<object?>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] is not ('\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029'))
            {
                continue;
            }

            lines.Add(text[start..i]);
            if (text[i] == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                i++;
            }

            start = i + 1;
        }
        if (start < text.Length)
        {
            lines.Add(text[start..]);
        }

        return lines;
    }

    private static bool Affix(string text, object? affix, Func<string, string, bool> test) => affix switch
    {
        string single => test(text, single),
        object?[] choices => choices.Any(choice => test(text, Text(choice, "startswith"))),
        _ => throw new JinjaError($"startswith/endswith first arg must be str or a tuple of str, not {JinjaValues.TypeName(affix)}"),
    };

    private static string Replace(string text, string old, string replacement, long count)
    {
        if (count < 0)
        {
            return old.Length == 0 ? ReplaceEmpty(text, replacement, long.MaxValue) : text.Replace(old, replacement, StringComparison.Ordinal);
        }

        if (old.Length == 0)
        {
            return ReplaceEmpty(text, replacement, count);
        }

        var result = new StringBuilder();
        var start = 0;
        for (var done = 0L; done < count; done++)
        {
            var index = text.IndexOf(old, start, StringComparison.Ordinal);
            if (index < 0)
            {
                break;
            }

            result.Append(text, start, index - start).Append(replacement);
            start = index + old.Length;
        }
        return result.Append(text, start, text.Length - start).ToString();
    }

    // Python inserts the replacement before every code point and at the end when old is empty.
    private static string ReplaceEmpty(string text, string replacement, long count)
    {
        var result = new StringBuilder();
        var done = 0L;
        foreach (var point in JinjaValues.CodePoints(text))
        {
            if (done++ < count)
            {
                result.Append(replacement);
            }

            result.Append(point);
        }
        if (done < count)
        {
            result.Append(replacement);
        }

        return result.ToString();
    }

    /// <summary>Python's str.title(): a letter after a non-letter is upper case, any other lower case.</summary>
    public static string PythonTitle(string text)
    {
        var result = new StringBuilder(text.Length);
        var previousCased = false;
        foreach (var c in text)
        {
            var cased = char.IsUpper(c) || char.IsLower(c) || char.IsLetter(c);
            result.Append(!cased ? c : previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = cased;
        }
        return result.ToString();
    }

    /// <summary>Python's str.capitalize(): the first character upper case, the rest lower case.</summary>
    public static string Capitalize(string text) =>
        text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..].ToLowerInvariant();
}
