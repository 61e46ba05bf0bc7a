namespace InferServer.Engine;

/// <summary>
/// What a full KV block of the prefix cache holds: the keys and values of <see cref="BlockSize"/> tokens computed
/// under one adapter copy (<see cref="Identity"/>; 0 = the base model) after the prefix whose chain hash is
/// <see cref="Parent"/>. Hash-chained as in vLLM's automatic prefix caching, so a block's key stands for its whole
/// prefix; lookups compare the identity, the parent hash and the tokens themselves, not just the 64-bit hash, so two
/// different blocks can share a key only if two different prefixes collide on the parent hash.
/// </summary>
internal sealed class PrefixBlockKey : IEquatable<PrefixBlockKey>
{
    /// <summary>The chain hash before the first block.</summary>
    public const ulong Root = 0x243F6A8885A308D3;

    private readonly int[] tokens;

    /// <summary>The key of tokens [<paramref name="start"/>, <paramref name="start"/> + <paramref name="blockSize"/>).</summary>
    public PrefixBlockKey(long identity, ulong parent, IReadOnlyList<int> tokens, int start, int blockSize)
    {
        Identity = identity;
        Parent = parent;
        this.tokens = new int[blockSize];
        var hash = Mix(Mix(parent, (ulong)identity), (ulong)blockSize);
        for (var i = 0; i < blockSize; i++)
        {
            this.tokens[i] = tokens[start + i];
            hash = Mix(hash, (uint)this.tokens[i]);
        }

        Hash = hash;
    }

    /// <summary>The adapter copy the block's keys and values were computed with (0 = base).</summary>
    public long Identity { get; }

    /// <summary>Chain hash of the prefix before this block.</summary>
    public ulong Parent { get; }

    /// <summary>Chain hash of the prefix up to and including this block.</summary>
    public ulong Hash { get; }

    public int BlockSize => tokens.Length;

    public bool Equals(PrefixBlockKey? other) => other is not null && other.Hash == Hash && other.Identity == Identity
        && other.Parent == Parent && other.tokens.AsSpan().SequenceEqual(tokens);

    public override bool Equals(object? obj) => Equals(obj as PrefixBlockKey);

    public override int GetHashCode() => Hash.GetHashCode();

    /// <summary>Folds <paramref name="value"/> into <paramref name="hash"/> (splitmix64's finaliser over the xor).</summary>
    private static ulong Mix(ulong hash, ulong value)
    {
        var z = hash ^ (value + 0x9E3779B97F4A7C15 + (hash << 6) + (hash >> 2));
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
