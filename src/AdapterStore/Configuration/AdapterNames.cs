
namespace InferServer.AdapterStore.Configuration;

/// <summary>
/// The adapter name rule: 1–128 characters of <c>[A-Za-z0-9._-]</c>, not starting with '.' and without "..". Names
/// become directory names under the adapter roots, so the rule is what keeps a name from ever meaning a path
/// (no separators, no <c>..</c>, no hidden files), and it keeps names safe as metric labels.
/// </summary>
public static class AdapterNames
{
    public const int MaxLength = 128;

    /// <summary>Throws <see cref="InvalidAdapterNameException"/> unless <paramref name="name"/> follows the rule.</summary>
    public static void Validate(string? name)
    {
        if (Check(name) is { } reason)
        {
            throw new InvalidAdapterNameException(name ?? "", reason);
        }
    }

    /// <summary>Why <paramref name="name"/> breaks the rule, or null when it follows it.</summary>
    public static string? Check(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "a name is required";
        }

        if (name.Length > MaxLength)
        {
            return $"{name.Length} characters, at most {MaxLength} allowed";
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return $"character '{c}' is not allowed (only A-Z, a-z, 0-9, '.', '_', '-')";
            }
        }

        if (name[0] == '.')
        {
            return "a name may not start with '.'";
        }

        return name.Contains("..", StringComparison.Ordinal) ? "a name may not contain \"..\"" : null;
    }
}
