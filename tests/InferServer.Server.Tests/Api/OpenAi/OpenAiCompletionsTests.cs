using System.Text.Json.Nodes;

namespace InferServer.Server.Tests.Api.OpenAi;

[Collection(OpenAiServerCollection.Name)]
public sealed class OpenAiCompletionsTests(OpenAiServerFixture fixture)
{
    private OpenAiTestServer Server => fixture.Server;

    private static object Greedy(object prompt, int maxTokens = 6, bool stream = false) =>
        new { model = OpenAiTestServer.ServedName, prompt, max_tokens = maxTokens, temperature = 0, ignore_eos = true, stream };

    [Fact]
    public async Task UnaryCompletion_ReturnsTextUsageAndLengthFinish()
    {
        var (status, body) = await Server.PostAsync("v1/completions", Greedy("Hello world", maxTokens: 5));

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        Assert.Equal("text_completion", (string?)body!["object"]);
        Assert.Equal(OpenAiTestServer.ServedName, (string?)body["model"]);
        Assert.StartsWith("cmpl-", (string?)body["id"]);
        var choice = Assert.Single(body["choices"]!.AsArray())!;
        Assert.Equal(0, (int)choice["index"]!);
        Assert.Equal("length", (string?)choice["finish_reason"]);
        Assert.False(string.IsNullOrEmpty((string?)choice["text"]));
        var usage = body["usage"]!;
        Assert.Equal(5, (int)usage["completion_tokens"]!);
        Assert.True((int)usage["prompt_tokens"]! > 0);
        Assert.Equal((int)usage["prompt_tokens"]! + 5, (int)usage["total_tokens"]!);
    }

    [Fact]
    public async Task TokenIdPrompt_CountsItsTokensAsPromptUsage()
    {
        var (status, body) = await Server.PostAsync("v1/completions", Greedy(new[] { 11, 22, 33, 44 }, maxTokens: 3));

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        Assert.Equal(4, (int)body!["usage"]!["prompt_tokens"]!);
        Assert.Equal(3, (int)body["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task PromptList_GivesOneChoicePerPromptInOrder()
    {
        var (single0, first) = await Server.PostAsync("v1/completions", Greedy(new[] { 5, 6, 7 }));
        var (single1, second) = await Server.PostAsync("v1/completions", Greedy(new[] { 8, 9 }));
        var (status, both) = await Server.PostAsync("v1/completions", Greedy(new[] { new[] { 5, 6, 7 }, new[] { 8, 9 } }));

        Assert.True(single0 == 200 && single1 == 200 && status == 200, OpenAiTestServer.Show(both));
        var choices = both!["choices"]!.AsArray();
        Assert.Equal(2, choices.Count);
        Assert.Equal((string?)first!["choices"]![0]!["text"], (string?)choices[0]!["text"]);
        Assert.Equal((string?)second!["choices"]![0]!["text"], (string?)choices[1]!["text"]);
        Assert.Equal(1, (int)choices[1]!["index"]!);
        Assert.Equal(5, (int)both["usage"]!["prompt_tokens"]!);
        Assert.Equal(12, (int)both["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task NChoicesWithASeed_AreReproducibleAndCountThePromptOnce()
    {
        var request = new { model = OpenAiTestServer.ServedName, prompt = new[] { 1, 2, 3 }, max_tokens = 8, temperature = 1.0, seed = 42, n = 3, ignore_eos = true };

        var (status, body) = await Server.PostAsync("v1/completions", request);
        var (_, again) = await Server.PostAsync("v1/completions", request);
        var (_, seedPlusOne) = await Server.PostAsync("v1/completions",
            new { model = OpenAiTestServer.ServedName, prompt = new[] { 1, 2, 3 }, max_tokens = 8, temperature = 1.0, seed = 43, ignore_eos = true });

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        var texts = body!["choices"]!.AsArray().Select(choice => (string?)choice!["text"]).ToList();
        Assert.Equal(3, texts.Count);
        Assert.Equal(texts, again!["choices"]!.AsArray().Select(choice => (string?)choice!["text"]));
        // Choice i samples with seed + i.
        Assert.Equal((string?)seedPlusOne!["choices"]![0]!["text"], texts[1]);
        Assert.Equal(3, (int)body["usage"]!["prompt_tokens"]!);
        Assert.Equal(24, (int)body["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task Streaming_SendsTheUnaryTextAsChunksThenUsageThenDone()
    {
        var (_, unary) = await Server.PostAsync("v1/completions", Greedy("Once upon a time", maxTokens: 8));
        var request = new
        {
            model = OpenAiTestServer.ServedName,
            prompt = "Once upon a time",
            max_tokens = 8,
            temperature = 0,
            ignore_eos = true,
            stream = true,
            stream_options = new { include_usage = true },
        };

        var (status, contentType, events) = await Server.StreamAsync("v1/completions", request);

        Assert.Equal(200, status);
        Assert.Equal("text/event-stream", contentType);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(data => JsonNode.Parse(data)!).ToList();
        Assert.All(chunks, chunk => Assert.Equal("text_completion", (string?)chunk["object"]));
        Assert.Single(chunks.Select(chunk => (string?)chunk["id"]).Distinct());
        var pieces = chunks.Take(chunks.Count - 1).SelectMany(chunk => chunk["choices"]!.AsArray()).ToList();
        Assert.Equal((string?)unary!["choices"]![0]!["text"], string.Concat(pieces.Select(piece => (string?)piece!["text"])));
        Assert.Equal("length", (string?)pieces[^1]!["finish_reason"]);
        var usageChunk = chunks[^1];
        Assert.Empty(usageChunk["choices"]!.AsArray());
        Assert.Equal(8, (int)usageChunk["usage"]!["completion_tokens"]!);
        Assert.Equal((int)unary["usage"]!["prompt_tokens"]!, (int)usageChunk["usage"]!["prompt_tokens"]!);
    }

    [Fact]
    public async Task IntegerLogprobs_ReportEachTokenWithThatManyAlternatives()
    {
        var (status, body) = await Server.PostAsync("v1/completions",
            new { model = OpenAiTestServer.ServedName, prompt = new[] { 3, 4 }, max_tokens = 4, temperature = 0, ignore_eos = true, logprobs = 2 });

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        var logprobs = body!["choices"]![0]!["logprobs"]!;
        Assert.Equal(4, logprobs["tokens"]!.AsArray().Count);
        Assert.All(logprobs["token_logprobs"]!.AsArray(), value => Assert.True((double)value! <= 0));
        Assert.All(logprobs["top_logprobs"]!.AsArray(), top => Assert.Equal(2, top!.AsObject().Count));
        // Greedy: the chosen token is the most likely alternative.
        var first = logprobs["top_logprobs"]![0]!.AsObject();
        Assert.Equal((string?)logprobs["tokens"]![0], first.MaxBy(pair => (double)pair.Value!).Key);
    }

    [Fact]
    public async Task Logprobs_WhenTheLastTextIsHeldBackForAStopString_AreThoseOfEveryToken()
    {
        // The stop filter holds back text that may begin a stop string and releases it at the end in a delta of no token,
        // which has no logprobs; joining the deltas' logprobs failed on it (a 500).
        var (_, plain) = await Server.PostAsync("v1/completions", Greedy("Hello world", maxTokens: 6));
        var text = (string)plain!["choices"]![0]!["text"]!;

        var (status, body) = await Server.PostAsync("v1/completions", new
        {
            model = OpenAiTestServer.ServedName,
            prompt = "Hello world",
            max_tokens = 6,
            temperature = 0,
            ignore_eos = true,
            logprobs = 1,
            stop = new[] { text[^1] + "\u00a7\u00a7" },
        });

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        Assert.Equal(text, (string?)body!["choices"]![0]!["text"]);
        Assert.Equal(6, body["choices"]![0]!["logprobs"]!["tokens"]!.AsArray().Count);
    }
}
