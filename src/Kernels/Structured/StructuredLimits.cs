namespace InferServer.Kernels.Structured;

/// <summary>
/// Caps on schemas and on the automaton, so that a hostile or huge schema costs bounded memory and time (documented in
/// docs/configuration.md). A schema over a compile-time cap is refused (<see cref="UnsupportedSchemaException"/>).
/// </summary>
public static class StructuredLimits
{
    /// <summary>Largest schema text, in UTF-16 characters.</summary>
    public const int MaxSchemaChars = 64 * 1024;

    /// <summary>Most compiled schema nodes (every subschema, enum value and type alternative counts).</summary>
    public const int MaxNodes = 4096;

    /// <summary>Deepest nesting of the schema document itself.</summary>
    public const int MaxSchemaDepth = 48;

    /// <summary>Most declared properties of one object (the automaton keeps one bit per property).</summary>
    public const int MaxProperties = 64;

    /// <summary>Most enum values of one schema.</summary>
    public const int MaxEnumValues = 512;

    /// <summary>Deepest nesting of objects and arrays in a generated value; bounds $ref recursion and json_object.</summary>
    public const int MaxValueDepth = 24;

    /// <summary>Most whitespace bytes in a row between two tokens of the JSON text, so a model cannot loop on spaces.</summary>
    public const int MaxWhitespace = 4;

    /// <summary>Most digits of a number's integer part, and of its fraction (so they stay within a double's precision).</summary>
    public const int MaxNumberDigits = 15;

    /// <summary>Most digits of a number's exponent.</summary>
    public const int MaxExponentDigits = 2;

    /// <summary>Most characters of a key that the schema does not declare (written from [A-Za-z0-9_-]).</summary>
    public const int MaxAdditionalKeyLength = 64;

    /// <summary>Most alternative parses the automaton follows at once (anyOf branches, enum values sharing a prefix).</summary>
    public const int MaxAlternatives = 256;

    /// <summary>Most union/$ref hops while expanding one value start (a $ref cycle that nests no object or array ends here).</summary>
    public const int MaxExpansionHops = 32;

    /// <summary>Most automaton states whose token masks are kept per tokenizer; the cache is cleared when full.</summary>
    public const int MaxCachedMasks = 4096;

    /// <summary>Most compiled schemas kept by <see cref="JsonGrammarCache"/>.</summary>
    public const int MaxCachedGrammars = 256;
}
