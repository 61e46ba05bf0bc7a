using System.Text.Json.Nodes;

namespace InferServer.Server.Tests.Api.OpenAi;

[Collection(OpenAiServerCollection.Name)]
public sealed class OpenAiChatTests(OpenAiServerFixture fixture)
{
    private OpenAiTestServer Server => fixture.Server;

    private static readonly object[] Messages =
    [
        new { role = "system", content = "You are terse." },
        new { role = "user", content = "Say hello." },
    ];

    [Fact]
    public async Task UnaryChat_ReturnsAnAssistantMessageWithUsage()
    {
        var (status, body) = await Server.PostAsync("v1/chat/completions",
            new { model = OpenAiTestServer.ServedName, messages = Messages, max_completion_tokens = 4, temperature = 0, ignore_eos = true });

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        Assert.Equal("chat.completion", (string?)body!["object"]);
        Assert.StartsWith("chatcmpl-", (string?)body["id"]);
        var choice = Assert.Single(body["choices"]!.AsArray())!;
        Assert.Equal("assistant", (string?)choice["message"]!["role"]);
        Assert.NotNull((string?)choice["message"]!["content"]);
        Assert.Equal("length", (string?)choice["finish_reason"]);
        Assert.Equal(4, (int)body["usage"]!["completion_tokens"]!);
        Assert.True((int)body["usage"]!["prompt_tokens"]! > 10, "the rendered template adds role markers to the prompt");
    }

    [Fact]
    public async Task TextContentParts_AreTheSameAsAStringContent()
    {
        var parts = new object[] { new { role = "user", content = new object[] { new { type = "text", text = "Say " }, new { type = "text", text = "hello." } } } };
        var plain = new object[] { new { role = "user", content = "Say hello." } };

        var (status, fromParts) = await Server.PostAsync("v1/chat/completions",
            new { model = OpenAiTestServer.ServedName, messages = parts, max_tokens = 5, temperature = 0, ignore_eos = true });
        var (_, fromString) = await Server.PostAsync("v1/chat/completions",
            new { model = OpenAiTestServer.ServedName, messages = plain, max_tokens = 5, temperature = 0, ignore_eos = true });

        Assert.True(status == 200, OpenAiTestServer.Show(fromParts));
        Assert.Equal((string?)fromString!["choices"]![0]!["message"]!["content"], (string?)fromParts!["choices"]![0]!["message"]!["content"]);
    }

    [Fact]
    public async Task StreamingChat_StartsWithTheRoleThenContentThenFinishThenUsageThenDone()
    {
        var (_, unary) = await Server.PostAsync("v1/chat/completions",
            new { model = OpenAiTestServer.ServedName, messages = Messages, max_tokens = 6, temperature = 0, ignore_eos = true });

        var (status, contentType, events) = await Server.StreamAsync("v1/chat/completions", new
        {
            model = OpenAiTestServer.ServedName,
            messages = Messages,
            max_tokens = 6,
            temperature = 0,
            ignore_eos = true,
            stream = true,
            stream_options = new { include_usage = true },
        });

        Assert.Equal(200, status);
        Assert.Equal("text/event-stream", contentType);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(data => JsonNode.Parse(data)!).ToList();
        Assert.All(chunks, chunk => Assert.Equal("chat.completion.chunk", (string?)chunk["object"]));
        var deltas = chunks.Take(chunks.Count - 1).Select(chunk => chunk["choices"]![0]!).ToList();
        Assert.Equal("assistant", (string?)deltas[0]["delta"]!["role"]);
        Assert.Equal((string?)unary!["choices"]![0]!["message"]!["content"],
            string.Concat(deltas.Select(delta => (string?)delta["delta"]!["content"])));
        Assert.Equal("length", (string?)deltas[^1]["finish_reason"]);
        Assert.Equal(6, (int)chunks[^1]["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task ChatLogprobs_ListEveryTokenWithTopAlternatives()
    {
        var (status, body) = await Server.PostAsync("v1/chat/completions", new
        {
            model = OpenAiTestServer.ServedName,
            messages = Messages,
            max_tokens = 3,
            temperature = 0,
            ignore_eos = true,
            logprobs = true,
            top_logprobs = 3,
        });

        Assert.True(status == 200, OpenAiTestServer.Show(body));
        var content = body!["choices"]![0]!["logprobs"]!["content"]!.AsArray();
        Assert.Equal(3, content.Count);
        Assert.All(content, token =>
        {
            var bytes = token!["bytes"]!.AsArray().Select(b => (byte)(int)b!).ToArray();
            Assert.Equal(System.Text.Encoding.UTF8.GetString(bytes), (string?)token["token"]);
            Assert.Equal(3, token["top_logprobs"]!.AsArray().Count);
            Assert.Equal((string?)token["token"], (string?)token["top_logprobs"]![0]!["token"]);
        });
        // Byte-level BPE: the tokens' bytes, end to end, are the reply (a token may hold half a character).
        if ((string?)body["choices"]![0]!["finish_reason"] == "length")
        {
            var allBytes = content.SelectMany(token => token!["bytes"]!.AsArray().Select(b => (byte)(int)b!)).ToArray();
            Assert.Equal((string?)body["choices"]![0]!["message"]!["content"], System.Text.Encoding.UTF8.GetString(allBytes));
        }
    }
}
