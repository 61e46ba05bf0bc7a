namespace InferServer.Kernels.Structured;

/// <summary>
/// One level of the JSON pushdown automaton's stack. Frames are immutable records: value equality (schema nodes by
/// identity) is what lets equal automaton states share one cached token mask.
/// </summary>
internal abstract record GrammarFrame;

/// <summary>Expecting a value of <paramref name="Node"/> (after up to <see cref="StructuredLimits.MaxWhitespace"/> spaces).</summary>
internal sealed record ValueFrame(SchemaNode Node, int Depth, int Whitespace) : GrammarFrame;

/// <summary>Where an object is between its braces.</summary>
internal enum ObjectPhase
{
    /// <summary>After '{': a key or '}'.</summary>
    Open,
    /// <summary>Inside a key (a <see cref="KeyFrame"/> is on top).</summary>
    Key,
    /// <summary>After a key: ':'.</summary>
    Colon,
    /// <summary>After a value: ',' or '}'.</summary>
    AfterValue,
    /// <summary>After ',': a key.</summary>
    Comma,
}

/// <summary>An object of <paramref name="Node"/>: the declared properties seen (a bit each), the undeclared keys written
/// (each followed by '\n'), and the schema of the value after the next ':'.</summary>
internal sealed record ObjectFrame(ObjectNode Node, ObjectPhase Phase, ulong Seen, string ExtraKeys, SchemaNode? Pending, int Depth, int Whitespace)
    : GrammarFrame;

/// <summary>The bytes of a key so far (one char per byte), above its object's frame.</summary>
internal sealed record KeyFrame(string Key) : GrammarFrame;

/// <summary>Where an array is between its brackets.</summary>
internal enum ArrayPhase
{
    /// <summary>After '[': an item or ']'.</summary>
    Open,
    /// <summary>After an item: ',' or ']'.</summary>
    AfterValue,
    /// <summary>After ',': an item.</summary>
    Comma,
}

/// <summary>An array of <paramref name="Node"/> holding <paramref name="Count"/> items so far.</summary>
internal sealed record ArrayFrame(ArrayNode Node, ArrayPhase Phase, int Count, int Depth, int Whitespace) : GrammarFrame;

/// <summary>
/// Inside a string: characters counted (only when the schema bounds the length), UTF-8 continuation bytes still due
/// and the range the next one must fall in (RFC 3629's table, so no overlong form or surrogate slips through), and
/// the escape state (0 none, 1 after '\', 2–5 at hex digit 0–3 of \uXXXX, with whether it is heading for a surrogate).
/// </summary>
internal sealed record StringFrame(StringNode Node, int Length, int Pending, byte Low, byte High, int Escape, bool Surrogate) : GrammarFrame;

/// <summary>Where a number is (RFC 8259 §6).</summary>
internal enum NumberPhase
{
    Minus,
    Zero,
    Integer,
    Dot,
    Fraction,
    Exponent,
    ExponentSign,
    ExponentDigits,
}

/// <summary>Inside a number; <paramref name="Digits"/> counts the digits of the current part.</summary>
internal sealed record NumberFrame(bool Integer, NumberPhase Phase, int Digits) : GrammarFrame
{
    public bool Accepting => Phase is NumberPhase.Zero or NumberPhase.Integer or NumberPhase.Fraction or NumberPhase.ExponentDigits;
}

/// <summary>Inside a fixed text (true, false, null, a const or enum value) at byte <paramref name="Position"/>.</summary>
internal sealed record LiteralFrame(LiteralNode Node, int Position) : GrammarFrame;

/// <summary>Between the parts of a <see cref="SequenceNode"/>: part <paramref name="Next"/> comes next.</summary>
internal sealed record SequenceFrame(SequenceNode Node, int Next, int Depth) : GrammarFrame;

/// <summary>An immutable stack of frames; null is the empty stack (the value is complete). Compared by value.</summary>
internal sealed class GrammarStack : IEquatable<GrammarStack>
{
    private readonly int hash;

    public GrammarStack(GrammarFrame head, GrammarStack? tail)
    {
        Head = head;
        Tail = tail;
        hash = HashCode.Combine(head, tail?.hash ?? 0);
    }

    public GrammarFrame Head { get; }

    public GrammarStack? Tail { get; }

    public bool Equals(GrammarStack? other)
    {
        var a = this;
        var b = other;
        while (a is not null && b is not null)
        {
            if (ReferenceEquals(a, b))
            {
                return true;
            }

            if (a.hash != b.hash || !a.Head.Equals(b.Head))
            {
                return false;
            }

            a = a.Tail;
            b = b.Tail;
        }
        return a is null && b is null;
    }

    public override bool Equals(object? obj) => obj is GrammarStack other && Equals(other);

    public override int GetHashCode() => hash;
}
