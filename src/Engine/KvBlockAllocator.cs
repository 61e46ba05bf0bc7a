namespace InferServer.Engine;

/// <summary>
/// Hands out fixed-size blocks of KV-cache slots (vLLM's paged KV cache): a sequence grows one block at a time, so
/// memory is committed as tokens arrive rather than reserved for max_new_tokens up front. With prefix caching a full
/// block may be registered under its <see cref="PrefixBlockKey"/>; blocks are then reference-counted, shared by the
/// sequences that reuse them, and a registered block no sequence uses waits in an LRU list instead of the free pool,
/// still findable, until an allocation needs it. Idle cached blocks count as free: caching never refuses or preempts
/// anything. Engine thread only.
/// </summary>
internal sealed class KvBlockAllocator
{
    private readonly Stack<int> free;
    private readonly int[] references;
    private readonly PrefixBlockKey?[] keys;
    private readonly Dictionary<ulong, int> cached = [];
    private readonly Dictionary<long, int> blocksPerIdentity = [];
    // Least recently released first: the next eviction victim.
    private readonly LinkedList<int> idle = new();
    private readonly LinkedListNode<int>?[] idleNodes;

    /// <summary>Splits <paramref name="totalSlots"/> into blocks of <paramref name="blockSize"/> tokens.</summary>
    public KvBlockAllocator(long totalSlots, int blockSize)
    {
        if (blockSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "block size must be at least 1");
        }

        BlockSize = blockSize;
        TotalBlocks = (int)Math.Min(int.MaxValue, totalSlots / blockSize);
        if (TotalBlocks < 1)
        {
            throw new ArgumentException($"the KV cache holds {totalSlots} token slots, less than one block of {blockSize}");
        }

        free = new Stack<int>(Enumerable.Range(0, TotalBlocks).Reverse());
        references = new int[TotalBlocks];
        keys = new PrefixBlockKey?[TotalBlocks];
        idleNodes = new LinkedListNode<int>?[TotalBlocks];
    }

    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }

    /// <summary>Blocks in the cache.</summary>
    public int TotalBlocks { get; }

    /// <summary>Blocks no sequence uses: never used, or cached and idle (evicted on demand).</summary>
    public int FreeBlocks => free.Count + idle.Count;

    /// <summary>Blocks used by at least one sequence.</summary>
    public int BlocksInUse => TotalBlocks - FreeBlocks;

    /// <summary>Blocks registered for reuse, whether a sequence uses them now or they wait in the LRU.</summary>
    public int CachedBlocks => cached.Count;

    /// <summary>Fraction of blocks in use, 0..1 (idle cached blocks are free: they are taken back on demand).</summary>
    public double Usage => 1.0 - (double)FreeBlocks / TotalBlocks;

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    /// <summary>
    /// Grows <paramref name="blocks"/> until it holds <paramref name="tokens"/> tokens, evicting the least recently
    /// used idle cached blocks when the free pool runs out; false (and no change) if the cache lacks room.
    /// </summary>
    public bool TryEnsureCapacity(List<int> blocks, int tokens)
    {
        var missing = BlocksFor(tokens) - blocks.Count;
        if (missing <= 0)
        {
            return true;
        }

        if (missing > FreeBlocks)
        {
            return false;
        }

        for (var i = 0; i < missing; i++)
        {
            var block = free.Count > 0 ? free.Pop() : EvictLeastRecentlyUsed();
            references[block] = 1;
            blocks.Add(block);
        }

        return true;
    }

    /// <summary>
    /// Gives up a sequence's use of each of its blocks and empties its list: a block nobody else uses goes to the LRU
    /// when registered, else to the free pool. The last block is released first, so a prefix's head outlives its tail.
    /// </summary>
    public void Release(List<int> blocks)
    {
        for (var i = blocks.Count - 1; i >= 0; i--)
        {
            var block = blocks[i];
            if (--references[block] > 0)
            {
                continue;
            }

            if (keys[block] is null)
            {
                free.Push(block);
            }
            else
            {
                idleNodes[block] = idle.AddLast(block);
            }
        }

        blocks.Clear();
    }

    /// <summary>
    /// Appends to the empty <paramref name="blocks"/> the longest chain of registered blocks that hold the first
    /// tokens of <paramref name="tokens"/> under <paramref name="identity"/>, at most <paramref name="maxBlocks"/>,
    /// taking a use of each. Returns the chain's hash (<see cref="PrefixBlockKey.Root"/> when nothing matched).
    /// </summary>
    public ulong Reuse(long identity, IReadOnlyList<int> tokens, int maxBlocks, List<int> blocks)
    {
        var hash = PrefixBlockKey.Root;
        for (var index = 0; index < maxBlocks; index++)
        {
            var key = new PrefixBlockKey(identity, hash, tokens, index * BlockSize, BlockSize);
            if (!cached.TryGetValue(key.Hash, out var block) || !key.Equals(keys[block]))
            {
                break;
            }

            if (references[block]++ == 0)
            {
                idle.Remove(idleNodes[block]!);
                idleNodes[block] = null;
            }

            blocks.Add(block);
            hash = key.Hash;
        }

        return hash;
    }

    /// <summary>
    /// Registers the full blocks <paramref name="from"/> .. <paramref name="to"/> (exclusive) of a sequence whose keys
    /// and values are computed, continuing the chain from <paramref name="hash"/>; returns the new chain hash. A block
    /// whose key another block already holds stays private (freed, not cached, when released).
    /// </summary>
    public ulong Register(long identity, IReadOnlyList<int> tokens, List<int> blocks, int from, int to, ulong hash)
    {
        for (var index = from; index < to; index++)
        {
            var key = new PrefixBlockKey(identity, hash, tokens, index * BlockSize, BlockSize);
            var block = blocks[index];
            if (keys[block] is null && cached.TryAdd(key.Hash, block))
            {
                keys[block] = key;
                blocksPerIdentity[identity] = blocksPerIdentity.GetValueOrDefault(identity) + 1;
            }

            hash = key.Hash;
        }

        return hash;
    }

    /// <summary>
    /// Makes every block of <paramref name="identity"/> unreachable (an unloaded or replaced adapter): idle ones go back
    /// to the free pool now, used ones when their sequences release them. Returns how many were dropped.
    /// </summary>
    public int Forget(long identity)
    {
        if (!blocksPerIdentity.ContainsKey(identity))
        {
            return 0;
        }

        var dropped = 0;
        for (var block = 0; block < TotalBlocks; block++)
        {
            if (keys[block] is not { } key || key.Identity != identity)
            {
                continue;
            }

            Unregister(block);
            dropped++;
            if (idleNodes[block] is { } node)
            {
                idle.Remove(node);
                idleNodes[block] = null;
                free.Push(block);
            }
        }

        return dropped;
    }

    /// <summary>Identities that have at least one registered block.</summary>
    public IReadOnlyCollection<long> CachedIdentities => blocksPerIdentity.Keys;

    /// <summary>Cache slot of token <paramref name="position"/> of a sequence owning <paramref name="blocks"/>.</summary>
    public long SlotOf(List<int> blocks, int position) => (long)blocks[position / BlockSize] * BlockSize + position % BlockSize;

    private int EvictLeastRecentlyUsed()
    {
        var block = idle.First!.Value;
        idle.RemoveFirst();
        idleNodes[block] = null;
        Unregister(block);
        return block;
    }

    private void Unregister(int block)
    {
        var key = keys[block]!;
        cached.Remove(key.Hash);
        keys[block] = null;
        if (--blocksPerIdentity[key.Identity] == 0)
        {
            blocksPerIdentity.Remove(key.Identity);
        }
    }
}
