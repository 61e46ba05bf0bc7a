using System.Text;
using InferServer.Kernels.Sampling;
using InferServer.Server.Api.OpenAi;

namespace InferServer.Server.Tests.Api.OpenAi;

/// <summary>How logprobs name tokens: by their bytes as text, with the exact bytes beside them in chat.</summary>
public sealed class OpenAiLogprobNamesTests
{
    // "é" is C3 A9 in UTF-8: tokens 1 and 2 each hold half of it, token 3 is " hi", token 4 a special token's text.
    private static readonly Dictionary<int, byte[]> Vocabulary = new()
    {
        [1] = [0xC3],
        [2] = [0xA9],
        [3] = Encoding.UTF8.GetBytes(" hi"),
        [4] = Encoding.UTF8.GetBytes("<|im_end|>"),
    };

    private static ReadOnlyMemory<byte> BytesOf(int id) => Vocabulary[id];

    [Fact]
    public void ChatLogprobs_NameWholeTokensByTheirTextAndCarryEveryTokensBytes()
    {
        var tokens = new[]
        {
            new SampledToken(3, -0.1f, [new TokenLogprob(3, -0.1f), new TokenLogprob(4, -2.5f)]),
            new SampledToken(1, -0.2f, []),
            new SampledToken(2, -0.3f, []),
        };

        var content = OpenAiMapper.ChatLogprobs(tokens, BytesOf)!.Content;

        Assert.Equal([" hi", "\uFFFD", "\uFFFD"], content.Select(token => token.Token));
        Assert.Equal("<|im_end|>", content[0].TopLogprobs[1].Token);
        Assert.Equal([0xC3], content[1].Bytes!);
        Assert.Equal(" hié", Encoding.UTF8.GetString(content.SelectMany(token => token.Bytes!.Select(b => (byte)b)).ToArray()));
    }

    [Fact]
    public void CompletionLogprobs_KeepTheLikelierOfTwoAlternativesWithTheSameName()
    {
        var tokens = new[] { new SampledToken(1, -0.5f, [new TokenLogprob(1, -0.5f), new TokenLogprob(2, -0.9f), new TokenLogprob(3, -1.5f)]) };

        var logprobs = OpenAiMapper.CompletionLogprobs(tokens, BytesOf)!;

        Assert.Equal(["\uFFFD"], logprobs.Tokens);
        Assert.Equal(2, logprobs.TopLogprobs[0].Count);
        Assert.Equal(-0.5f, logprobs.TopLogprobs[0]["\uFFFD"]);
        Assert.Equal(-1.5f, logprobs.TopLogprobs[0][" hi"]);
    }

    [Fact]
    public void NoLogprobsAskedFor_GivesNone()
    {
        Assert.Null(OpenAiMapper.ChatLogprobs(null, BytesOf));
        Assert.Null(OpenAiMapper.CompletionLogprobs(null, BytesOf));
    }
}
