namespace InferServer.Jinja;

/// <summary>Arguments of a call, filter or test as the template wrote them, bound to parameters by <see cref="Bind"/>.</summary>
internal sealed class Arguments(IReadOnlyList<object?> positional, IReadOnlyDictionary<string, object?> keyword)
{
    public static readonly Arguments Empty = new([], new Dictionary<string, object?>());

    public IReadOnlyList<object?> Positional { get; } = positional;

    public IReadOnlyDictionary<string, object?> Keyword { get; } = keyword;

    /// <summary>
    /// Python's binding: positional arguments fill <paramref name="names"/> in order, keywords by name; a parameter
    /// neither gives takes its entry in <paramref name="defaults"/> (aligned to the end of <paramref name="names"/>,
    /// as in a Python signature). Too many arguments, unknown keywords and missing required ones fail.
    /// </summary>
    public object?[] Bind(string function, string[] names, params object?[] defaults)
    {
        if (Positional.Count > names.Length)
        {
            throw new JinjaError($"{function}() takes at most {names.Length} arguments ({Positional.Count} given)");
        }

        var values = new object?[names.Length];
        var given = new bool[names.Length];
        for (var i = 0; i < Positional.Count; i++)
        {
            values[i] = Positional[i];
            given[i] = true;
        }
        foreach (var (name, value) in Keyword)
        {
            var position = Array.IndexOf(names, name);
            if (position < 0)
            {
                throw new JinjaError($"{function}() got an unexpected keyword argument '{name}'");
            }

            if (given[position])
            {
                throw new JinjaError($"{function}() got multiple values for argument '{name}'");
            }

            values[position] = value;
            given[position] = true;
        }
        var firstDefault = names.Length - defaults.Length;
        for (var i = 0; i < names.Length; i++)
        {
            if (given[i])
            {
                continue;
            }

            if (i < firstDefault)
            {
                throw new JinjaError($"{function}() missing required argument '{names[i]}'");
            }

            values[i] = defaults[i - firstDefault];
        }
        return values;
    }
}

/// <summary>A callable value: a global (range, namespace, raise_exception…), a bound method or a macro.</summary>
internal sealed class JinjaFunction(string name, Func<Arguments, object?> invoke)
{
    public string Name { get; } = name;

    public object? Invoke(Arguments arguments) => invoke(arguments);

    public override string ToString() => $"<function {Name}>";
}
