namespace InferServer.Kernels.Structured;

/// <summary>
/// A state of a schema's byte automaton: the set of pushdown stacks still alive (more than one while anyOf branches
/// or enum values share a prefix). Immutable and compared by value, so equal states share one cached token mask.
/// A null stack in the set means the value is complete.
/// </summary>
public sealed class GrammarState : IEquatable<GrammarState>
{
    private readonly GrammarStack?[] stacks;
    private readonly int hash;

    private GrammarState(GrammarStack?[] stacks)
    {
        this.stacks = stacks;
        var hash = stacks.Length;
        foreach (var stack in stacks)
        {
            // Order-independent: the same set built in another order is the same state.
            hash += stack?.GetHashCode() ?? 17;
        }
        this.hash = hash;
    }

    // No whitespace before the value: the output starts with it.
    internal static GrammarState Start(SchemaNode root) => new([new GrammarStack(new ValueFrame(root, 0, StructuredLimits.MaxWhitespace), null)]);

    /// <summary>True when the bytes so far form a complete value (the output may end here).</summary>
    public bool IsAccepting => stacks.Any(Accepts);

    /// <summary>True when the value is complete and no byte can follow.</summary>
    public bool IsFinished => stacks.All(stack => stack is null);

    /// <summary>The state after <paramref name="value"/>, or null when the byte cannot continue any parse.</summary>
    public GrammarState? Advance(byte value)
    {
        if (stacks.Length == 1)
        {
            var single = new List<GrammarStack?>(2);
            if (stacks[0] is { } only)
            {
                Step(only, value, single, 0);
            }
            if (single.Count == 1 && ReferenceEquals(single[0], stacks[0]))
            {
                return this;
            }
            return single.Count == 0 ? null : Create(single);
        }
        var next = new List<GrammarStack?>(stacks.Length + 1);
        foreach (var stack in stacks)
        {
            if (stack is not null)
            {
                Step(stack, value, next, 0);
            }
        }
        return next.Count == 0 ? null : Create(next);
    }

    /// <summary>The state after all of <paramref name="bytes"/>, or null.</summary>
    public GrammarState? Advance(ReadOnlySpan<byte> bytes)
    {
        var state = this;
        foreach (var value in bytes)
        {
            state = state.Advance(value);
            if (state is null)
            {
                return null;
            }
        }
        return state;
    }

    public bool Equals(GrammarState? other)
    {
        if (other is null || other.hash != hash || other.stacks.Length != stacks.Length)
        {
            return false;
        }

        return ReferenceEquals(this, other) || stacks.All(stack => Array.IndexOf(other.stacks, stack) >= 0);
    }

    public override bool Equals(object? obj) => obj is GrammarState other && Equals(other);

    public override int GetHashCode() => hash;

    private static GrammarState Create(List<GrammarStack?> next)
    {
        if (next.Count == 1)
        {
            return new GrammarState([next[0]]);
        }
        // Distinct parses that reached the same stack are one; beyond the cap the rest are dropped (the output stays
        // valid; only some continuations are lost).
        var distinct = next.Distinct().Take(StructuredLimits.MaxAlternatives).ToArray();
        return new GrammarState(distinct);
    }

    private static bool Accepts(GrammarStack? stack) =>
        stack is null || (stack.Tail is null && stack.Head is NumberFrame { Accepting: true });

    private static bool IsWhitespace(byte value) => value is (byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r';

    private static GrammarStack Replace(GrammarStack stack, GrammarFrame head) => new(head, stack.Tail);

    /// <summary>Every stack <paramref name="stack"/> becomes on <paramref name="value"/>, added to <paramref name="output"/>.</summary>
    private static void Step(GrammarStack stack, byte value, List<GrammarStack?> output, int hops)
    {
        switch (stack.Head)
        {
            case ValueFrame frame:
                if (IsWhitespace(value))
                {
                    if (frame.Whitespace < StructuredLimits.MaxWhitespace)
                    {
                        output.Add(Replace(stack, frame with { Whitespace = frame.Whitespace + 1 }));
                    }

                    return;
                }
                Start(frame.Node, frame.Depth, stack.Tail, value, output, hops);
                return;
            case ObjectFrame frame:
                StepObject(stack, frame, value, output);
                return;
            case KeyFrame frame:
                StepKey(stack, frame, value, output);
                return;
            case ArrayFrame frame:
                StepArray(stack, frame, value, output, hops);
                return;
            case StringFrame frame:
                StepString(stack, frame, value, output);
                return;
            case NumberFrame frame:
                StepNumber(stack, frame, value, output, hops);
                return;
            case SequenceFrame frame:
                var rest = frame.Next + 1 < frame.Node.Parts.Length ? Replace(stack, frame with { Next = frame.Next + 1 }) : stack.Tail;
                Start(frame.Node.Parts[frame.Next], frame.Depth, rest, value, output, hops);
                return;
            case LiteralFrame frame:
                if (frame.Node.Bytes[frame.Position] == value)
                {
                    output.Add(frame.Position + 1 == frame.Node.Bytes.Length ? stack.Tail : Replace(stack, frame with { Position = frame.Position + 1 }));
                }
                return;
        }
    }

    /// <summary>The first byte of a value of <paramref name="node"/>, pushed onto <paramref name="tail"/>.</summary>
    private static void Start(SchemaNode node, int depth, GrammarStack? tail, byte value, List<GrammarStack?> output, int hops)
    {
        switch (node)
        {
            case UnionNode union:
                if (hops < StructuredLimits.MaxExpansionHops)
                {
                    foreach (var option in union.Options)
                    {
                        Start(option, depth, tail, value, output, hops + 1);
                    }
                }
                return;
            case RefNode reference:
                if (hops < StructuredLimits.MaxExpansionHops && reference.Target is { } target)
                {
                    Start(target, depth, tail, value, output, hops + 1);
                }
                return;
            case ObjectNode objectNode when value == (byte)'{' && depth < StructuredLimits.MaxValueDepth:
                output.Add(new GrammarStack(new ObjectFrame(objectNode, ObjectPhase.Open, 0, "", null, depth + 1, 0), tail));
                return;
            case ArrayNode arrayNode when value == (byte)'[' && depth < StructuredLimits.MaxValueDepth:
                output.Add(new GrammarStack(new ArrayFrame(arrayNode, ArrayPhase.Open, 0, depth + 1, 0), tail));
                return;
            case StringNode stringNode when value == (byte)'"':
                output.Add(new GrammarStack(new StringFrame(stringNode, 0, 0, 0, 0, 0, false), tail));
                return;
            case NumberNode number:
                if (value == (byte)'-')
                {
                    output.Add(new GrammarStack(new NumberFrame(number.Integer, NumberPhase.Minus, 0), tail));
                }
                else if (value == (byte)'0')
                {
                    output.Add(new GrammarStack(new NumberFrame(number.Integer, NumberPhase.Zero, 1), tail));
                }
                else if (value is >= (byte)'1' and <= (byte)'9')
                {
                    output.Add(new GrammarStack(new NumberFrame(number.Integer, NumberPhase.Integer, 1), tail));
                }
                return;
            case SequenceNode sequence:
                var after = sequence.Parts.Length > 1 ? new GrammarStack(new SequenceFrame(sequence, 1, depth), tail) : tail;
                Start(sequence.Parts[0], depth, after, value, output, hops);
                return;
            case LiteralNode literal when literal.Bytes[0] == value:
                output.Add(literal.Bytes.Length == 1 ? tail : new GrammarStack(new LiteralFrame(literal, 1), tail));
                return;
        }
    }

    private static bool CanAddKey(ObjectFrame frame) => frame.Node.Additional is not null || (frame.Seen & frame.Node.AllMask) != frame.Node.AllMask;

    private static bool RequiredSeen(ObjectFrame frame) => (frame.Node.RequiredMask & ~frame.Seen) == 0;

    private static void StepObject(GrammarStack stack, ObjectFrame frame, byte value, List<GrammarStack?> output)
    {
        if (IsWhitespace(value))
        {
            if (frame.Phase != ObjectPhase.Key && frame.Whitespace < StructuredLimits.MaxWhitespace)
            {
                output.Add(Replace(stack, frame with { Whitespace = frame.Whitespace + 1 }));
            }

            return;
        }
        switch (frame.Phase)
        {
            case ObjectPhase.Open or ObjectPhase.Comma when value == (byte)'"' && CanAddKey(frame):
                output.Add(new GrammarStack(new KeyFrame(""), Replace(stack, frame with { Phase = ObjectPhase.Key, Whitespace = 0 })));
                return;
            case ObjectPhase.Open or ObjectPhase.AfterValue when value == (byte)'}' && RequiredSeen(frame):
                output.Add(stack.Tail);
                return;
            case ObjectPhase.AfterValue when value == (byte)',' && CanAddKey(frame):
                output.Add(Replace(stack, frame with { Phase = ObjectPhase.Comma, Whitespace = 0 }));
                return;
            case ObjectPhase.Colon when value == (byte)':':
                var parent = Replace(stack, frame with { Phase = ObjectPhase.AfterValue, Pending = null, Whitespace = 0 });
                output.Add(new GrammarStack(new ValueFrame(frame.Pending!, frame.Depth, 0), parent));
                return;
        }
    }

    private static void StepKey(GrammarStack stack, KeyFrame key, byte value, List<GrammarStack?> output)
    {
        var objectStack = stack.Tail!;
        var frame = (ObjectFrame)objectStack.Head;
        var node = frame.Node;
        if (value == (byte)'"' && !EndsInEscape(key.Key))
        {
            for (var i = 0; i < node.EncodedNames.Length; i++)
            {
                if (Matches(node.EncodedNames[i], key.Key, whole: true))
                {
                    if ((frame.Seen & (1UL << i)) == 0)
                    {
                        output.Add(Replace(objectStack, frame with { Phase = ObjectPhase.Colon, Seen = frame.Seen | (1UL << i), Pending = node.Values[i] }));
                    }
                    // A declared name, seen before: a duplicate key.
                    return;
                }
            }
            if (node.Additional is { } additional && key.Key.Length > 0 && !frame.ExtraKeys.Split('\n').Contains(key.Key))
            {
                output.Add(Replace(objectStack, frame with { Phase = ObjectPhase.Colon, ExtraKeys = frame.ExtraKeys + key.Key + "\n", Pending = additional }));
            }
            return;
        }
        var extended = key.Key + (char)value;
        var possible = node.Additional is not null && extended.Length <= StructuredLimits.MaxAdditionalKeyLength && char.IsAsciiLetterOrDigit((char)value)
            || value is (byte)'_' or (byte)'-' && node.Additional is not null && extended.Length <= StructuredLimits.MaxAdditionalKeyLength;
        for (var i = 0; !possible && i < node.EncodedNames.Length; i++)
        {
            possible = (frame.Seen & (1UL << i)) == 0 && Matches(node.EncodedNames[i], extended, whole: false);
        }
        if (possible)
        {
            output.Add(Replace(stack, new KeyFrame(extended)));
        }
    }

    // After an odd number of backslashes a quote is part of the key (an escaped quote), not its end.
    private static bool EndsInEscape(string key)
    {
        var backslashes = 0;
        for (var i = key.Length - 1; i >= 0 && key[i] == '\\'; i--)
        {
            backslashes++;
        }
        return backslashes % 2 == 1;
    }

    // Whether the bytes held one per char in `text` are the name (whole) or a prefix of it.
    private static bool Matches(byte[] name, string text, bool whole)
    {
        if (text.Length > name.Length || (whole && text.Length != name.Length))
        {
            return false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            if (name[i] != text[i])
            {
                return false;
            }
        }
        return true;
    }

    private static void StepArray(GrammarStack stack, ArrayFrame frame, byte value, List<GrammarStack?> output, int hops)
    {
        if (IsWhitespace(value))
        {
            if (frame.Whitespace < StructuredLimits.MaxWhitespace)
            {
                output.Add(Replace(stack, frame with { Whitespace = frame.Whitespace + 1 }));
            }

            return;
        }
        if (frame.Phase is ArrayPhase.Open or ArrayPhase.AfterValue && value == (byte)']' && frame.Count >= frame.Node.MinItems)
        {
            output.Add(stack.Tail);
            return;
        }
        if (frame.Phase == ArrayPhase.AfterValue)
        {
            if (value == (byte)',' && frame.Node.ItemAt(frame.Count) is not null)
            {
                output.Add(Replace(stack, frame with { Phase = ArrayPhase.Comma, Whitespace = 0 }));
            }

            return;
        }
        if (frame.Node.ItemAt(frame.Count) is { } item)
        {
            var parent = Replace(stack, frame with { Phase = ArrayPhase.AfterValue, Count = frame.Count + 1, Whitespace = 0 });
            Start(item, frame.Depth, parent, value, output, hops);
        }
    }

    private static void StepString(GrammarStack stack, StringFrame frame, byte value, List<GrammarStack?> output)
    {
        var node = frame.Node;
        if (frame.Pending > 0)
        {
            if (value >= frame.Low && value <= frame.High)
            {
                output.Add(Replace(stack, frame with { Pending = frame.Pending - 1, Low = 0x80, High = 0xBF }));
            }

            return;
        }
        if (frame.Escape == 1)
        {
            // \r and \u are kept out while the minimum is unmet: "\r\n" and combining characters form one grapheme,
            // and validators that count graphemes would then count fewer characters than were written.
            var allowed = value is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'t'
                || (value is (byte)'r' or (byte)'u' && frame.Length >= node.MinLength);
            if (allowed)
            {
                output.Add(Replace(stack, value == (byte)'u' ? frame with { Escape = 2 } : Counted(frame with { Escape = 0 })));
            }

            return;
        }
        if (frame.Escape >= 2)
        {
            var hex = char.IsAsciiHexDigit((char)value);
            var position = frame.Escape - 2;
            // No surrogate escapes (\uD800–\uDFFF): alone they are not text, and pairs would count as two characters.
            if (!hex || (position == 1 && frame.Surrogate && value is >= (byte)'8' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F'))
            {
                return;
            }

            var surrogate = position == 0 ? value is (byte)'d' or (byte)'D' : frame.Surrogate;
            output.Add(Replace(stack, position == 3 ? Counted(frame with { Escape = 0, Surrogate = false }) : frame with { Escape = frame.Escape + 1, Surrogate = surrogate }));
            return;
        }
        if (value == (byte)'"')
        {
            if (frame.Length >= node.MinLength)
            {
                output.Add(stack.Tail);
            }

            return;
        }
        if (value < 0x20 || frame.Length >= node.MaxLength)
        {
            return;
        }

        if (value == (byte)'\\')
        {
            output.Add(Replace(stack, frame with { Escape = 1 }));
            return;
        }
        if (value < 0x80)
        {
            output.Add(node.Counts ? Replace(stack, Counted(frame)) : stack);
            return;
        }
        if (frame.Length < node.MinLength)
        {
            return;
        }
        // RFC 3629 §4: the lead byte fixes how many continuation bytes follow and the range of the first one.
        (int Pending, byte Low, byte High) lead = value switch
        {
            >= 0xC2 and <= 0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            >= 0xE1 and <= 0xEC or 0xEE or 0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            >= 0xF1 and <= 0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => (0, 0, 0),
        };
        if (lead.Pending > 0)
        {
            output.Add(Replace(stack, Counted(frame with { Pending = lead.Pending, Low = lead.Low, High = lead.High })));
        }
    }

    private static StringFrame Counted(StringFrame frame) => frame.Node.Counts ? frame with { Length = frame.Length + 1 } : frame;

    private static void StepNumber(GrammarStack stack, NumberFrame frame, byte value, List<GrammarStack?> output, int hops)
    {
        var digit = value is >= (byte)'0' and <= (byte)'9';
        var next = frame.Phase switch
        {
            NumberPhase.Minus when value == (byte)'0' => frame with { Phase = NumberPhase.Zero, Digits = 1 },
            NumberPhase.Minus when digit => frame with { Phase = NumberPhase.Integer, Digits = 1 },
            NumberPhase.Integer when digit && frame.Digits < StructuredLimits.MaxNumberDigits => frame with { Digits = frame.Digits + 1 },
            NumberPhase.Zero or NumberPhase.Integer when value == (byte)'.' && !frame.Integer => frame with { Phase = NumberPhase.Dot, Digits = 0 },
            NumberPhase.Zero or NumberPhase.Integer or NumberPhase.Fraction when value is (byte)'e' or (byte)'E' && !frame.Integer =>
                frame with { Phase = NumberPhase.Exponent, Digits = 0 },
            NumberPhase.Dot when digit => frame with { Phase = NumberPhase.Fraction, Digits = 1 },
            NumberPhase.Fraction when digit && frame.Digits < StructuredLimits.MaxNumberDigits => frame with { Digits = frame.Digits + 1 },
            NumberPhase.Exponent when value is (byte)'+' or (byte)'-' => frame with { Phase = NumberPhase.ExponentSign },
            NumberPhase.Exponent or NumberPhase.ExponentSign when digit => frame with { Phase = NumberPhase.ExponentDigits, Digits = 1 },
            NumberPhase.ExponentDigits when digit && frame.Digits < StructuredLimits.MaxExponentDigits => frame with { Digits = frame.Digits + 1 },
            _ => (NumberFrame?)null,
        };
        if (next is not null)
        {
            output.Add(Replace(stack, next));
        }
        else if (frame.Accepting && stack.Tail is { } parent)
        {
            // A number ends at the first byte that cannot continue it; that byte belongs to the enclosing value.
            Step(parent, value, output, hops);
        }
    }
}
