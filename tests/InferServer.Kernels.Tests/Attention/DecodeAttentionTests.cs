using InferServer.Kernels.Attention;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Attention;

/// <summary>
/// Decode rows attend in bounded groups with query heads grouped by their KV head: every row against a float64
/// transcription of transformers' eager attention with repeat_kv, whatever the group a row lands in.
/// </summary>
public sealed class DecodeAttentionTests
{
    private const int Heads = 4, KvHeads = 2, HeadDim = 8;

    [Fact]
    public void Split_BoundsEveryGroup_KeepsEverySequenceOnce_LongestFirst()
    {
        var contexts = new[] { 700, 1500, 30, 1200, 900, 1500, 2, 1100, 800, 1300, 650, 1000 };
        var sequences = contexts.Select((c, i) => new SequenceSpan(i, 1, c, new long[c])).ToList();

        var groups = AttentionBatch.DecodeGroup.Split(sequences).ToList();

        Assert.True(groups.Count > 1, "the contexts were chosen to need more than one group");
        Assert.All(groups, g => Assert.True(g.Count == 1 || g.Count * g[0].ContextLength <= AttentionBatch.DecodeGroup.MaxContextPositions));
        Assert.Equal(sequences.OrderBy(s => s.QueryStart), groups.SelectMany(g => g).OrderBy(s => s.QueryStart));
        var flattened = groups.SelectMany(g => g).Select(s => s.ContextLength).ToArray();
        Assert.Equal(flattened.OrderByDescending(c => c), flattened);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ManyLongDecodeRows_EachEqualsEagerAttentionWithRepeatedKvHeads(bool softCapped)
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var contexts = new[] { 700, 1500, 30, 1200, 900, 1500, 2, 1100, 800, 1300, 650, 1000 };
        var slotsInUse = contexts.Sum();
        var (cacheKeys, cacheValues) = (zeros(slotsInUse, KvHeads, HeadDim), zeros(slotsInUse, KvHeads, HeadDim));
        // Slots interleaved across sequences, as a paged cache hands them out.
        var order = randperm(slotsInUse).data<long>().ToArray();
        var spans = new List<SequenceSpan>();
        var next = 0;
        for (var i = 0; i < contexts.Length; i++)
        {
            spans.Add(new SequenceSpan(i, 1, contexts[i], order[next..(next + contexts[i])]));
            next += contexts[i];
        }
        cacheKeys.copy_(randn(slotsInUse, KvHeads, HeadDim));
        cacheValues.copy_(randn(slotsInUse, KvHeads, HeadDim));
        var q = randn(contexts.Length, Heads, HeadDim);
        // The new token's own K and V, written by the call into each sequence's last slot.
        var (k, v) = (randn(contexts.Length, KvHeads, HeadDim), randn(contexts.Length, KvHeads, HeadDim));
        var batch = AttentionBatch.Create(spans, slidingWindow: null, CPU);
        Assert.True(batch.Decode.Length > 1, "the rows were expected to attend in several groups");

        const double softCap = 5.0;
        var scale = 1.0 / Math.Sqrt(HeadDim);
        var output = softCapped
            ? SoftCappedAttention.Causal(q, k, v, cacheKeys, cacheValues, batch, scale, softCap)
            : PagedAttention.Causal(q, k, v, cacheKeys, cacheValues, batch);

        for (var row = 0; row < contexts.Length; row++)
        {
            var slots = tensor(spans[row].KvSlots);
            var keys = cacheKeys.index_select(0, slots).to(ScalarType.Float64).transpose(0, 1).repeat_interleave(Heads / KvHeads, dim: 0);
            var values = cacheValues.index_select(0, slots).to(ScalarType.Float64).transpose(0, 1).repeat_interleave(Heads / KvHeads, dim: 0);
            var query = q[row].to(ScalarType.Float64).unsqueeze(1);
            var scores = query.matmul(keys.transpose(1, 2)) * scale;
            if (softCapped)
                scores = (scores / softCap).tanh() * softCap;
            var expected = scores.softmax(-1).matmul(values).flatten();
            var actual = output[row].to(ScalarType.Float64);
            var difference = (expected - actual).abs().max().item<double>();
            Assert.True(difference < 1e-5, $"row {row} (context {contexts[row]}): max difference {difference}");
        }
    }
}
