using System.Collections;

namespace InferServer.Jinja;

/// <summary>
/// The globals a chat template can call: jinja2's range, namespace and dict, and the two transformers adds,
/// raise_exception and strftime_now.
/// </summary>
internal static class Globals
{
    // jinja2's sandbox refuses larger ranges (MAX_RANGE).
    private const long MaxRange = 100_000;

    public static Dictionary<string, object?> Create(JinjaRenderOptions options) => new(StringComparer.Ordinal)
    {
        ["range"] = new JinjaFunction("range", Range),
        ["namespace"] = new JinjaFunction("namespace", CreateNamespace),
        ["dict"] = new JinjaFunction("dict", arguments =>
        {
            if (arguments.Positional.Count > 0)
            {
                throw new JinjaError("dict() takes keyword arguments only here");
            }

            return arguments.Keyword.ToDictionary(pair => (object)pair.Key, pair => pair.Value);
        }),
        ["raise_exception"] = new JinjaFunction("raise_exception", arguments =>
            throw new RaisedByTemplate(JinjaValues.ToStr(arguments.Bind("raise_exception", ["message"])[0]))),
        ["strftime_now"] = new JinjaFunction("strftime_now", arguments =>
        {
            var format = arguments.Bind("strftime_now", ["format"])[0] as string ?? throw new JinjaError("strftime_now expects a format string");
            return Strftime.Format(options.Time.GetLocalNow(), format);
        }),
    };

    private static object? Range(Arguments arguments)
    {
        if (arguments.Keyword.Count > 0)
        {
            throw new JinjaError("range() takes no keyword arguments");
        }

        var values = arguments.Positional.Select(JinjaValues.ToLong).ToArray();
        var (start, stop, step) = values.Length switch
        {
            1 => (0L, values[0], 1L),
            2 => (values[0], values[1], 1L),
            3 => (values[0], values[1], values[2]),
            _ => throw new JinjaError($"range expected 1 to 3 arguments, got {values.Length}"),
        };
        if (step == 0)
        {
            throw new JinjaError("range() arg 3 must not be zero");
        }

        var count = step > 0 ? (stop - start + step - 1) / step : (start - stop - step - 1) / -step;
        if (count > MaxRange)
        {
            throw new JinjaError($"range too big: the sandbox blocks ranges larger than {MaxRange}");
        }

        var result = new List<object?>((int)Math.Max(count, 0));
        for (var i = 0L; i < count; i++)
        {
            result.Add(start + i * step);
        }

        return result;
    }

    private static object? CreateNamespace(Arguments arguments)
    {
        var ns = new Namespace();
        foreach (var initial in arguments.Positional)
        {
            if (initial is not IDictionary dictionary)
            {
                throw new JinjaError("namespace() takes a mapping and keyword arguments");
            }

            foreach (DictionaryEntry entry in dictionary)
            {
                ns.Attributes[JinjaValues.ToStr(entry.Key)] = entry.Value;
            }
        }
        foreach (var (name, value) in arguments.Keyword)
        {
            ns.Attributes[name] = value;
        }

        return ns;
    }
}
