namespace InferServer.Server.Tests.Api.OpenAi;

[Collection(OpenAiServerCollection.Name)]
public sealed class OpenAiErrorTests(OpenAiServerFixture fixture)
{
    private OpenAiTestServer Server => fixture.Server;

    [Fact]
    public async Task UnknownAdapter_Is404WithOpenAisErrorBodyNamingTheModel()
    {
        var (status, body) = await Server.PostAsync("v1/completions", new { model = "no-such-adapter", prompt = "hi", max_tokens = 2 });

        Assert.Equal(404, status);
        var error = body!["error"]!;
        Assert.Equal("model", (string?)error["param"]);
        Assert.Equal("model_not_found", (string?)error["code"]);
        Assert.Equal("invalid_request_error", (string?)error["type"]);
        Assert.Contains("no-such-adapter", (string?)error["message"]);
    }

    [Fact]
    public async Task UnknownAdapterInAStreamingChat_IsAlso404BeforeAnyEvent()
    {
        var (status, contentType, events) = await Server.StreamAsync("v1/chat/completions",
            new { model = "no-such-adapter", messages = new[] { new { role = "user", content = "hi" } }, stream = true });

        Assert.Equal(404, status);
        Assert.Equal("application/json", contentType);
        Assert.Empty(events);
    }

    [Theory]
    [InlineData("v1/completions", "logit_bias")]
    [InlineData("v1/completions", "echo")]
    [InlineData("v1/completions", "suffix")]
    [InlineData("v1/chat/completions", "functions")]
    [InlineData("v1/chat/completions", "function_call")]
    public async Task AnUnsupportedField_Is400NamingIt(string path, string field)
    {
        var body = new Dictionary<string, object?>
        {
            ["model"] = OpenAiTestServer.ServedName,
            [path.Contains("chat") ? "messages" : "prompt"] = path.Contains("chat") ? new[] { new { role = "user", content = "hi" } } : "hi",
            [field] = false,
        };

        var (status, answer) = await Server.PostAsync(path, body);

        Assert.Equal(400, status);
        Assert.Equal(field, (string?)answer!["error"]!["param"]);
        Assert.Equal("unsupported_parameter", (string?)answer["error"]!["code"]);
    }

    [Fact]
    public async Task AnUnsupportedStreamOption_Is400NamingItsPath()
    {
        var (status, body) = await Server.PostAsync("v1/completions", new
        {
            model = OpenAiTestServer.ServedName,
            prompt = "hi",
            stream = true,
            stream_options = new { include_usage = true, continuous_usage_stats = true },
        });

        Assert.Equal(400, status);
        Assert.Equal("stream_options.continuous_usage_stats", (string?)body!["error"]!["param"]);
    }

    [Fact]
    public async Task AMessageField_IsCheckedAgainstItsOwnAllowList()
    {
        var (status, body) = await Server.PostAsync("v1/chat/completions",
            new { model = OpenAiTestServer.ServedName, messages = new[] { new { role = "user", content = "hi", name = "bob" } } });

        Assert.Equal(400, status);
        Assert.Equal("messages[0].name", (string?)body!["error"]!["param"]);
    }

    [Theory]
    [InlineData("top_p", 1.5, "top_p")]
    [InlineData("temperature", 3.0, "temperature")]
    [InlineData("presence_penalty", -5.0, "presence_penalty")]
    [InlineData("max_tokens", 0, "max_tokens")]
    [InlineData("max_tokens", 1_000_000, "max_tokens")]
    [InlineData("n", 0, "n")]
    [InlineData("seed", -1, "seed")]
    public async Task AnOutOfRangeValue_Is400NamingTheOpenAiField(string field, double value, string param)
    {
        var body = new Dictionary<string, object?> { ["model"] = OpenAiTestServer.ServedName, ["prompt"] = "hi" };
        body[field] = field is "max_tokens" or "n" or "seed" ? (long)value : value;

        var (status, answer) = await Server.PostAsync("v1/completions", body);

        Assert.True(status == 400, OpenAiTestServer.Show(answer));
        Assert.Equal(param, (string?)answer!["error"]!["param"]);
        Assert.Equal("invalid_request_error", (string?)answer["error"]!["type"]);
    }

    [Fact]
    public async Task TopLogprobsWithoutLogprobs_Is400NamingTopLogprobs()
    {
        var (status, body) = await Server.PostAsync("v1/chat/completions",
            new { model = OpenAiTestServer.ServedName, messages = new[] { new { role = "user", content = "hi" } }, top_logprobs = 2 });

        Assert.Equal(400, status);
        Assert.Equal("top_logprobs", (string?)body!["error"]!["param"]);
    }

    [Fact]
    public async Task ChatTopLogprobsOutOfRange_Is400NamingTopLogprobs_NotCompletionsLogprobs()
    {
        var (status, body) = await Server.PostAsync("v1/chat/completions",
            new { model = OpenAiTestServer.ServedName, messages = new[] { new { role = "user", content = "hi" } }, logprobs = true, top_logprobs = 500 });

        Assert.Equal(400, status);
        Assert.Equal("top_logprobs", (string?)body!["error"]!["param"]);
    }

    [Fact]
    public async Task ABadRole_Is400NamingTheMessage()
    {
        var (status, body) = await Server.PostAsync("v1/chat/completions",
            new { model = OpenAiTestServer.ServedName, messages = new[] { new { role = "wizard", content = "hi" } } });

        Assert.Equal(400, status);
        Assert.Equal("messages[0].role", (string?)body!["error"]!["param"]);
    }

    [Fact]
    public async Task AMissingModelOrPrompt_Is400NamingIt()
    {
        var (noModel, modelBody) = await Server.PostAsync("v1/completions", new { prompt = "hi" });
        var (noPrompt, promptBody) = await Server.PostAsync("v1/completions", new { model = OpenAiTestServer.ServedName });

        Assert.Equal(400, noModel);
        Assert.Equal("model", (string?)modelBody!["error"]!["param"]);
        Assert.Equal(400, noPrompt);
        Assert.Equal("prompt", (string?)promptBody!["error"]!["param"]);
    }

    [Fact]
    public async Task ATokenIdOutsideTheVocabulary_Is400NamingThePrompt()
    {
        // The engine checks ids against the model's vocabulary and names its own field (prompt_token_ids), which the
        // OpenAI body does not have: the ids were sent as "prompt".
        var (status, body) = await Server.PostAsync("v1/completions", new { model = OpenAiTestServer.ServedName, prompt = new[] { 5, 2_000_000_000 }, max_tokens = 2 });

        Assert.Equal(400, status);
        Assert.Equal("prompt", (string?)body!["error"]!["param"]);
    }

    [Fact]
    public async Task AStopTokenIdOutsideTheVocabulary_Is400NamingIt()
    {
        // Such an id can never be generated, so the request would silently run to max_tokens: refuse it instead.
        var (status, body) = await Server.PostAsync("v1/completions",
            new { model = OpenAiTestServer.ServedName, prompt = "hi", max_tokens = 2, stop_token_ids = new[] { 5, 2_000_000_000 } });

        Assert.Equal(400, status);
        Assert.Equal("stop_token_ids", (string?)body!["error"]!["param"]);
        Assert.Contains("2000000000", (string?)body["error"]!["message"]);
    }

    [Fact]
    public async Task AChatTooLongForTheContext_Is400NamingTheMessages()
    {
        // The engine reports the rendered prompt as "prompt"; a chat body has none: its prompt is the messages.
        var messages = new[] { new { role = "user", content = string.Concat(Enumerable.Repeat("cat ", 5000)) } };
        var (status, body) = await Server.PostAsync("v1/chat/completions", new { model = OpenAiTestServer.ServedName, messages, max_tokens = 2 });

        Assert.Equal(400, status);
        Assert.Equal("messages", (string?)body!["error"]!["param"]);
        Assert.Contains("context limit", (string?)body["error"]!["message"]);
    }

    [Fact]
    public async Task MalformedJson_Is400NamingTheBody()
    {
        using var content = new StringContent("{\"model\": ", System.Text.Encoding.UTF8, "application/json");
        using var response = await Server.Client.PostAsync("v1/completions", content);

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Contains("\"param\":\"body\"", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("v1/completions", "{\"model\": \"%M\", \"prompt\": \"a\\ud800b\"}", "prompt")]
    [InlineData("v1/chat/completions", "{\"model\": \"%M\", \"messages\": [{\"role\": \"user\", \"content\": \"\\udc00\"}]}", "messages[0].content")]
    [InlineData("tokenize", "{\"model\": \"%M\", \"prompt\": \"\\ud83d\"}", "prompt")]
    [InlineData("v1/completions", "{\"model\": \"%M\", \"prompt\": \"a\", \"\\ud800\": 1}", "body")]
    public async Task AnUnpairedSurrogateEscape_Is400NamingWhereItIs(string path, string body, string param)
    {
        // Valid JSON syntax, but "\ud800" alone decodes to no UTF-16 text: System.Text.Json throws on reading it.
        using var content = new StringContent(body.Replace("%M", OpenAiTestServer.ServedName), System.Text.Encoding.UTF8, "application/json");
        using var response = await Server.Client.PostAsync(path, content);

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Contains($"\"param\":\"{param}\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task BytesThatAreNotUtf8_Are400NamingTheFieldAndSayingSo()
    {
        // System.Text.Json parses invalid UTF-8 inside a string and throws only when it is read, like a lone surrogate
        // escape; the message must not send the client looking for a \u escape it never wrote.
        var json = "{\"model\": \"" + OpenAiTestServer.ServedName + "\", \"prompt\": \"a\xff\xfe\", \"max_tokens\": 2}";
        using var content = new ByteArrayContent([.. json.Select(c => (byte)c)]);
        content.Headers.ContentType = new("application/json");
        using var response = await Server.Client.PostAsync("v1/completions", content);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Contains("\"param\":\"prompt\"", body);
        Assert.Contains("UTF-8", body);
    }

    [Fact]
    public async Task TheApi_IsServedOnlyOnItsOwnPort()
    {
        using var metricsPort = new HttpClient { BaseAddress = Server.MetricsAddress };

        using var response = await metricsPort.GetAsync("v1/models");

        Assert.Equal(404, (int)response.StatusCode);
    }
}
