namespace InferServer.Engine;

/// <summary>
/// Hands out fixed-size blocks of KV-cache slots (vLLM's paged KV cache): a sequence grows one block at a time, so
/// memory is committed as tokens arrive rather than reserved for max_new_tokens up front, and a finished or cancelled
/// sequence returns its blocks at once. Engine thread only.
/// </summary>
internal sealed class KvBlockAllocator
{
    private readonly Stack<int> free;

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
    }

    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }

    /// <summary>Blocks in the cache.</summary>
    public int TotalBlocks { get; }

    /// <summary>Blocks not owned by any sequence.</summary>
    public int FreeBlocks => free.Count;

    /// <summary>Fraction of blocks in use, 0..1.</summary>
    public double Usage => 1.0 - (double)FreeBlocks / TotalBlocks;

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    /// <summary>Grows <paramref name="blocks"/> until it holds <paramref name="tokens"/> tokens; false (and no change) if the cache lacks room.</summary>
    public bool TryEnsureCapacity(List<int> blocks, int tokens)
    {
        var missing = BlocksFor(tokens) - blocks.Count;
        if (missing <= 0)
        {
            return true;
        }

        if (missing > free.Count)
        {
            return false;
        }

        for (var i = 0; i < missing; i++)
        {
            blocks.Add(free.Pop());
        }

        return true;
    }

    /// <summary>Returns every block of a sequence to the pool and empties its list.</summary>
    public void Release(List<int> blocks)
    {
        foreach (var block in blocks)
        {
            free.Push(block);
        }

        blocks.Clear();
    }

    /// <summary>Cache slot of token <paramref name="position"/> of a sequence owning <paramref name="blocks"/>.</summary>
    public long SlotOf(List<int> blocks, int position) => (long)blocks[position / BlockSize] * BlockSize + position % BlockSize;
}
