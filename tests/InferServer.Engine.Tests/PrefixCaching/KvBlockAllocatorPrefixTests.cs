using InferServer.Engine;

namespace InferServer.Engine.Tests.PrefixCaching;

/// <summary>The allocator's prefix cache on its own: chains, identities, reference counts and the LRU.</summary>
public sealed class KvBlockAllocatorPrefixTests
{
    private const int BlockSize = 4;

    private static readonly int[] Prompt = [.. Enumerable.Range(100, 14)]; // three full blocks and two tokens

    [Fact]
    public void ReleasedFullBlocks_AreReusedByTheSameIdentity_AndNotByAnother()
    {
        var allocator = new KvBlockAllocator(8 * BlockSize, BlockSize);
        var first = Computed(allocator, identity: 7, Prompt);
        var firstBlocks = first.ToArray();
        allocator.Release(first);

        Assert.Equal(0, allocator.BlocksInUse);
        Assert.Equal(3, allocator.CachedBlocks);
        var reused = new List<int>();
        allocator.Reuse(7, Prompt, 3, reused);
        Assert.Equal(firstBlocks.Take(3), reused);
        Assert.Equal(3, allocator.BlocksInUse);

        var other = new List<int>();
        Assert.Equal(PrefixBlockKey.Root, allocator.Reuse(8, Prompt, 3, other)); // another adapter
        Assert.Empty(other);
        Assert.Equal(PrefixBlockKey.Root, allocator.Reuse(0, Prompt, 3, other)); // the base model
        Assert.Empty(other);
    }

    [Fact]
    public void Reuse_StopsAtTheFirstBlockThatDiffers_SoOnlyAWholePrefixMatches()
    {
        var allocator = new KvBlockAllocator(8 * BlockSize, BlockSize);
        allocator.Release(Computed(allocator, 1, Prompt));
        var changed = Prompt.ToArray();
        changed[5] = 999; // second block differs: the third, though equal, has another prefix

        var reused = new List<int>();
        allocator.Reuse(1, changed, 3, reused);

        Assert.Single(reused);
    }

    [Fact]
    public void SharedBlocks_StayInUseUntilEveryUserReleases()
    {
        var allocator = new KvBlockAllocator(8 * BlockSize, BlockSize);
        var owner = Computed(allocator, 1, Prompt);
        var sharer = new List<int>();
        allocator.Reuse(1, Prompt, 3, sharer);

        allocator.Release(owner);
        Assert.Equal(3, allocator.BlocksInUse);
        allocator.Release(sharer);
        Assert.Equal(0, allocator.BlocksInUse);
        Assert.Equal(8, allocator.FreeBlocks);
    }

    [Fact]
    public void IdleCachedBlocks_AreEvictedLeastRecentlyUsedFirst_OnlyWhenTheFreePoolIsEmpty()
    {
        var allocator = new KvBlockAllocator(8 * BlockSize, BlockSize);
        int[] older = [.. Enumerable.Range(0, 8)];
        int[] newer = [.. Enumerable.Range(50, 8)];
        allocator.Release(Computed(allocator, 1, older));
        allocator.Release(Computed(allocator, 1, newer));
        Assert.Equal(4, allocator.CachedBlocks);

        var taker = new List<int>();
        Assert.True(allocator.TryEnsureCapacity(taker, 4 * BlockSize)); // the four never-used blocks
        Assert.Equal(4, allocator.CachedBlocks);
        Assert.True(allocator.TryEnsureCapacity(taker, 6 * BlockSize)); // evicts the older chain, tail first
        Assert.Equal(2, allocator.CachedBlocks);

        var reused = new List<int>();
        allocator.Reuse(1, older, 2, reused);
        Assert.Empty(reused);
        allocator.Reuse(1, newer, 2, reused);
        Assert.Equal(2, reused.Count);
        Assert.False(allocator.TryEnsureCapacity(taker, 7 * BlockSize)); // blocks in use are never evicted
    }

    [Fact]
    public void Forget_FreesAnIdentitysIdleBlocksNow_AndItsUsedBlocksOnRelease()
    {
        var allocator = new KvBlockAllocator(16 * BlockSize, BlockSize);
        allocator.Release(Computed(allocator, 1, Prompt));
        var running = Computed(allocator, 2, Prompt);
        allocator.Release(Computed(allocator, 3, Prompt));

        Assert.Equal(3, allocator.Forget(1));
        Assert.Equal(3, allocator.Forget(2));
        Assert.Equal(3, allocator.CachedBlocks);
        Assert.Equal([3L], allocator.CachedIdentities);
        allocator.Release(running);

        Assert.Equal(0, allocator.BlocksInUse);
        Assert.Equal(3, allocator.CachedBlocks);
        var reused = new List<int>();
        allocator.Reuse(2, Prompt, 3, reused);
        Assert.Empty(reused);
    }

    [Fact]
    public void ADuplicateBlock_StaysPrivate_AndIsFreedNotCached()
    {
        var allocator = new KvBlockAllocator(8 * BlockSize, BlockSize);
        var first = Computed(allocator, 1, Prompt);
        var second = Computed(allocator, 1, Prompt); // computed concurrently, before the first could be reused

        Assert.Equal(3, allocator.CachedBlocks);
        allocator.Release(second);
        allocator.Release(first);
        Assert.Equal(3, allocator.CachedBlocks);
        Assert.Equal(8, allocator.FreeBlocks);
    }

    /// <summary>A sequence that computed all of <paramref name="tokens"/> and registered its full blocks.</summary>
    private static List<int> Computed(KvBlockAllocator allocator, long identity, int[] tokens)
    {
        var blocks = new List<int>();
        Assert.True(allocator.TryEnsureCapacity(blocks, tokens.Length));
        allocator.Register(identity, tokens, blocks, 0, tokens.Length / BlockSize, PrefixBlockKey.Root);
        return blocks;
    }
}
