namespace InferServer.Kernels.Structured;

/// <summary>
/// A JSON Schema compiled to what the byte automaton needs: one node per distinct constraint, shared by reference (so
/// automaton frames compare nodes by identity). Built by <see cref="JsonSchemaCompiler"/>; immutable once built, except
/// that a <see cref="RefNode"/>'s target is set once while compiling (recursion).
/// </summary>
internal abstract class SchemaNode;

/// <summary>Alternatives (anyOf, a proven-disjoint oneOf, type arrays, enum): a value of any one of them.</summary>
internal sealed class UnionNode(SchemaNode[] options) : SchemaNode
{
    public SchemaNode[] Options { get; set; } = options;
}

/// <summary>A $ref, resolved after its target compiled; recursion is bounded by the nesting depth at run time.</summary>
internal sealed class RefNode : SchemaNode
{
    public SchemaNode? Target { get; set; }
}

/// <summary>An object: declared properties (at most 64: a bit each in the automaton), required ones, and what other keys may be.</summary>
internal sealed class ObjectNode(string[] names, byte[][] encodedNames, SchemaNode[] values, ulong requiredMask, SchemaNode? additional) : SchemaNode
{
    public string[] Names { get; } = names;

    /// <summary>Each name as the bytes between the quotes of its JSON string (escaped as <see cref="JsonText"/> writes it).</summary>
    public byte[][] EncodedNames { get; } = encodedNames;

    public SchemaNode[] Values { get; } = values;

    public ulong RequiredMask { get; } = requiredMask;

    public ulong AllMask => Names.Length == 64 ? ulong.MaxValue : (1UL << Names.Length) - 1;

    /// <summary>The schema of keys not declared (additionalProperties); null when none are allowed.</summary>
    public SchemaNode? Additional { get; set; } = additional;
}

/// <summary>An array: positional items (prefixItems), then items (null = no more), and its length bounds.</summary>
internal sealed class ArrayNode(SchemaNode[] prefix, SchemaNode? items, int minItems, int maxItems) : SchemaNode
{
    public SchemaNode[] Prefix { get; } = prefix;

    public SchemaNode? Items { get; set; } = items;

    public int MinItems { get; } = minItems;

    public int MaxItems { get; } = maxItems;

    /// <summary>The schema of item <paramref name="index"/>, or null when the array can hold no such item.</summary>
    public SchemaNode? ItemAt(int index) => index >= MaxItems ? null : index < Prefix.Length ? Prefix[index] : Items;
}

/// <summary>A string with length bounds in characters (int.MaxValue = no upper bound).</summary>
internal sealed class StringNode(int minLength, int maxLength) : SchemaNode
{
    public int MinLength { get; } = minLength;

    public int MaxLength { get; } = maxLength;

    /// <summary>Without bounds the automaton does not count characters, so every position in such a string is one state.</summary>
    public bool Counts => MinLength > 0 || MaxLength != int.MaxValue;
}

/// <summary>A JSON number, or an integer (no fraction, no exponent).</summary>
internal sealed class NumberNode(bool integer) : SchemaNode
{
    public bool Integer { get; } = integer;
}

/// <summary>Exactly these bytes: true, false, null, or one const/enum value written compactly.</summary>
internal sealed class LiteralNode(byte[] bytes) : SchemaNode
{
    public byte[] Bytes { get; } = bytes;
}

/// <summary>Parts written one after another: a tool call's fixed opening text, its JSON value, its fixed closing text.</summary>
internal sealed class SequenceNode(SchemaNode[] parts) : SchemaNode
{
    public SchemaNode[] Parts { get; } = parts;
}
