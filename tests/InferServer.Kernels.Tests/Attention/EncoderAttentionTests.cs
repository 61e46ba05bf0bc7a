using InferServer.Kernels.Attention;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Attention;

/// <summary>The one-call padded encoder attention against the per-sequence reference.</summary>
public sealed class EncoderAttentionTests
{
    public static TheoryData<int[]> Lengths => new() { new[] { 5 }, new[] { 7, 7, 7 }, new[] { 3, 9, 1, 6 }, new[] { 1, 1 }, new[] { 12, 2 } };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Bidirectional_GivesEverySequenceWhatItGetsAlone(int[] lengths)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var rows = lengths.Sum();
        var (q, k, v) = (randn(rows, 4, 8), randn(rows, 4, 8), randn(rows, 4, 8));
        var sequences = new List<(int Start, int Length)>();
        foreach (var length in lengths)
            sequences.Add((sequences.Count == 0 ? 0 : sequences[^1].Start + sequences[^1].Length, length));

        var expected = PagedAttention.Bidirectional(q, k, v, sequences);
        var actual = EncoderAttention.Bidirectional(q, k, v, EncoderAttentionLayout.Create(sequences, CPU));

        Assert.Equal(expected.shape, actual.shape);
        Assert.True(allclose(expected, actual, rtol: 1e-5, atol: 1e-6), $"max difference {(expected - actual).abs().max().item<float>()}");
    }

    [Fact]
    public void Layout_OfEqualLengths_IsAPlainView()
    {
        var layout = EncoderAttentionLayout.Create([(0, 4), (4, 4)], CPU);
        Assert.Null(layout.Gather);
        Assert.Null(layout.KeyMask);
        Assert.Equal((2, 4), (layout.Sequences, layout.MaxLength));
    }
}
