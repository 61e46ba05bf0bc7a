using InferServer.Kernels.Sampling;

namespace InferServer.Kernels.Tests.Sampling;

public sealed class TokenHistoryTests
{
    [Fact]
    public void Prompt_IsKeptAsDistinctIdsAndLength()
    {
        var history = new TokenHistory([5, 3, 5, 9]);
        Assert.Equal([3, 5, 9], history.PromptTokens.Order());
        Assert.Equal(4, history.PromptLength);
        Assert.Empty(history.GeneratedCounts);
    }

    [Fact]
    public void Append_CountsGeneratedTokensSeparatelyFromThePrompt()
    {
        var history = new TokenHistory([5]);
        history.Append(5);
        history.Append(7);
        history.Append(5);
        Assert.Equal(2, history.GeneratedCounts[5]);
        Assert.Equal(1, history.GeneratedCounts[7]);
        Assert.Equal(3, history.GeneratedLength);
        Assert.Equal([5], history.PromptTokens);
    }

    [Fact]
    public void Contains_CoversPromptAndGeneratedTokens()
    {
        var history = new TokenHistory([1]);
        history.Append(2);
        Assert.True(history.Contains(1));
        Assert.True(history.Contains(2));
        Assert.False(history.Contains(3));
    }

    [Fact]
    public void NegativeIds_AreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenHistory([-1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenHistory([]).Append(-1));
    }
}
