namespace InferServer.Kernels.Structured;

/// <summary>
/// Every token's bytes in one prefix tree, flattened in preorder, built once per tokenizer. A mask is one walk: each
/// trie node advances its parent's automaton state by one byte, and a byte no parse accepts prunes the node's whole
/// subtree, so the tokens sharing a dead prefix cost nothing (the same walk llguidance's token trie and outlines'
/// vocabulary index do). A token that crosses a boundary of the JSON text (<c>",</c> <c>}]</c> <c>":"</c>) is simply
/// a path through several automaton steps; one whose bytes run past the end of the value dies there.
/// Masks are cached per automaton state (equal states share one), up to <see cref="StructuredLimits.MaxCachedMasks"/>.
/// </summary>
public sealed class TokenTrie
{
    private readonly byte[] nodeByte;
    private readonly int[] nodeDepth;
    private readonly int[] subtreeEnd;
    private readonly int[] tokenStart;
    private readonly int[] tokenIds;
    private readonly int maxDepth;
    private readonly Dictionary<GrammarState, ulong[]> masks = [];
    private readonly Lock gate = new();

    /// <summary>
    /// <paramref name="tokenBytes"/>[id] is token id's bytes, or null for ids that never stand for text (special
    /// tokens, holes): those are never allowed by a grammar. Ids at and above its length are outside the mask.
    /// </summary>
    public TokenTrie(IReadOnlyList<byte[]?> tokenBytes)
    {
        ArgumentNullException.ThrowIfNull(tokenBytes);
        Vocabulary = tokenBytes.Count;
        var root = new Node();
        for (var id = 0; id < tokenBytes.Count; id++)
        {
            if (tokenBytes[id] is not { Length: > 0 } bytes)
            {
                continue;
            }

            var node = root;
            foreach (var value in bytes)
            {
                node.Children ??= [];
                if (!node.Children.TryGetValue(value, out var child))
                {
                    child = new Node();
                    node.Children[value] = child;
                }
                node = child;
            }
            (node.Tokens ??= []).Add(id);
        }

        var bytesList = new List<byte>();
        var depths = new List<int>();
        var ends = new List<int>();
        var starts = new List<int>();
        var ids = new List<int>();
        void Flatten(Node node, byte value, int depth)
        {
            var index = bytesList.Count;
            bytesList.Add(value);
            depths.Add(depth);
            ends.Add(0);
            starts.Add(ids.Count);
            if (node.Tokens is not null)
            {
                ids.AddRange(node.Tokens);
            }

            if (node.Children is not null)
            {
                foreach (var (childByte, child) in node.Children.OrderBy(pair => pair.Key))
                {
                    Flatten(child, childByte, depth + 1);
                }
            }
            ends[index] = bytesList.Count;
        }
        Flatten(root, 0, 0);
        starts.Add(ids.Count);
        nodeByte = [.. bytesList];
        nodeDepth = [.. depths];
        subtreeEnd = [.. ends];
        tokenStart = [.. starts];
        tokenIds = [.. ids];
        maxDepth = depths.Max();
    }

    /// <summary>Ids below this are in the mask.</summary>
    public int Vocabulary { get; }

    /// <summary>Trie nodes (the root included): the most automaton steps one mask can cost.</summary>
    public int NodeCount => nodeByte.Length;

    /// <summary>
    /// The tokens whose every byte <paramref name="state"/> accepts, one bit per id (bit id % 64 of word id / 64).
    /// The array is shared through the cache: do not modify it.
    /// </summary>
    public ulong[] AllowedTokens(GrammarState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (gate)
        {
            if (masks.TryGetValue(state, out var cached))
            {
                return cached;
            }
        }
        var mask = new ulong[(Vocabulary + 63) / 64];
        var states = new GrammarState?[maxDepth + 1];
        states[0] = state;
        var node = 1;
        while (node < nodeByte.Length)
        {
            var depth = nodeDepth[node];
            var next = states[depth - 1]!.Advance(nodeByte[node]);
            if (next is null)
            {
                node = subtreeEnd[node];
                continue;
            }
            states[depth] = next;
            for (var t = tokenStart[node]; t < tokenStart[node + 1]; t++)
            {
                var id = tokenIds[t];
                mask[id >> 6] |= 1UL << (id & 63);
            }
            node++;
        }
        lock (gate)
        {
            if (masks.Count >= StructuredLimits.MaxCachedMasks)
            {
                masks.Clear();
            }

            masks[state] = mask;
        }
        return mask;
    }

    private sealed class Node
    {
        public Dictionary<byte, Node>? Children { get; set; }

        public List<int>? Tokens { get; set; }
    }
}
