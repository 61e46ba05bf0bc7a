using System.Globalization;

namespace InferServer.LoadGen;

/// <summary>
/// "--name value" options and "--flag" switches after a command word. Every option read is recorded, so that
/// <see cref="Unused"/> can refuse typos instead of silently running with a default.
/// </summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, string?> options = new(StringComparer.Ordinal);
    private readonly HashSet<string> read = new(StringComparer.Ordinal);

    public CommandLine(IReadOnlyList<string> arguments)
    {
        var positional = new List<string>();
        for (var i = 0; i < arguments.Count; i++)
        {
            var argument = arguments[i];
            if (!argument.StartsWith("--", StringComparison.Ordinal))
            {
                positional.Add(argument);
                continue;
            }
            var equals = argument.IndexOf('=');
            if (equals > 0)
                options[argument[2..equals]] = argument[(equals + 1)..];
            else if (i + 1 < arguments.Count && !arguments[i + 1].StartsWith("--", StringComparison.Ordinal))
                options[argument[2..]] = arguments[++i];
            else
                options[argument[2..]] = null;
        }
        Positional = positional;
    }

    public IReadOnlyList<string> Positional { get; }

    public string String(string name, string fallback) => Get(name) ?? fallback;

    public string? OptionalString(string name) => Get(name);

    public bool Flag(string name)
    {
        read.Add(name);
        return options.ContainsKey(name) && options[name] is null or "true";
    }

    public int Int(string name, int fallback, int min, int max) => (int)Number(name, fallback, min, max);

    public double Double(string name, double fallback, double min, double max) => Number(name, fallback, min, max);

    public TEnum Enum<TEnum>(string name, TEnum fallback) where TEnum : struct, Enum
    {
        var value = Get(name);
        if (value is null) return fallback;
        return System.Enum.TryParse<TEnum>(value, ignoreCase: true, out var parsed) && System.Enum.IsDefined(parsed)
            ? parsed
            : throw new ArgumentException($"--{name} {value}: expected one of {string.Join(", ", System.Enum.GetNames<TEnum>()).ToLowerInvariant()}");
    }

    /// <summary>Options given but never read: misspellings or options of another command.</summary>
    public IReadOnlyList<string> Unused() => options.Keys.Where(key => !read.Contains(key)).Select(key => "--" + key).ToArray();

    private string? Get(string name)
    {
        read.Add(name);
        if (!options.TryGetValue(name, out var value)) return null;
        return value ?? throw new ArgumentException($"--{name} needs a value");
    }

    private double Number(string name, double fallback, double min, double max)
    {
        var text = Get(name);
        if (text is null) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new ArgumentException($"--{name} {text}: expected a number in [{min}, {max}]");
        return value;
    }
}
