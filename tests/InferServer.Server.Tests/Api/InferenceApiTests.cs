using Google.Rpc;
using Grpc.Core;
using InferServer.Api.V1;
using InferServer.Server.Tests.Hosting;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Api;

/// <summary>The Inference service over a scripted engine: every RPC, streaming, cancellation, limits and error codes.</summary>
public sealed class InferenceApiTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private async Task<(TestServer Server, FakeEngine Engine)> StartAsync(IDictionary<string, string?>? configuration = null, FakeEngine? engine = null)
    {
        engine ??= new FakeEngine();
        engine.LoadAsync("alpha", null, false, CancellationToken.None).Wait();
        return (await TestServer.StartAsync(output, engine, configuration), engine);
    }

    private static GenerateRequest Prompt(string text, string adapter = "") => new() { Text = text, Adapter = adapter };

    [Fact]
    public async Task Generate_ReturnsTextTokensUsageTimingAndLogprobs()
    {
        var (server, _) = await StartAsync();
        await using var _server = server;
        var request = Prompt("one two three", "alpha");
        request.Params = new GenerationParams { Logprobs = true, TopLogprobs = 2 };

        var response = await server.Inference.GenerateAsync(request);

        Assert.Equal("one two three ", response.Text);
        Assert.Equal([3, 3, 5], response.TokenIds);
        Assert.Equal(FinishReason.EndOfSequence, response.FinishReason);
        Assert.Equal(3, response.Usage.CompletionTokens);
        Assert.Equal(5, response.Timing.TimeToFirstTokenMs, 3);
        Assert.Equal(ServedFrom.Device, response.ServedFrom);
        Assert.Equal(3, response.Logprobs.Count);
        Assert.Equal(2, response.Logprobs[0].TopLogprobs.Count);
        // The fake engine's token i stands for the text "t{i}".
        Assert.Equal($"t{response.Logprobs[0].TokenId}", response.Logprobs[0].TokenBytes.ToStringUtf8());
        Assert.Equal("t1", response.Logprobs[0].TopLogprobs[1].TokenBytes.ToStringUtf8());
        Assert.Equal("", response.ChatTemplate);
    }

    [Fact]
    public async Task Generate_PassesSamplingStopsLimitsAndTheCallDeadlineToTheEngine()
    {
        var (server, engine) = await StartAsync();
        await using var _server = server;
        var request = new GenerateRequest
        {
            TokenIds = new TokenIds { Ids = { 5, 6 } },
            AddSpecialTokens = false,
            Params = new GenerationParams
            {
                MaxNewTokens = 7,
                Stop = { "END" },
                StopTokenIds = { 9 },
                IgnoreEos = true,
                Sampling = new SamplingParams { Temperature = 0, TopK = 5, Seed = 42 },
            },
        };
        var deadline = DateTime.UtcNow.AddMinutes(1);

        await server.Inference.GenerateAsync(request, deadline: deadline);

        var seen = engine.LastRequest!;
        Assert.Equal([5, 6], seen.PromptTokenIds);
        Assert.Null(seen.PromptText);
        Assert.False(seen.AddSpecialTokens);
        Assert.Equal(7, seen.MaxNewTokens);
        Assert.Equal(["END"], seen.StopStrings);
        Assert.Equal([9], seen.StopTokenIds);
        Assert.True(seen.IgnoreEos);
        Assert.Equal(0, seen.Sampling.Temperature);
        Assert.Equal(1.0, seen.Sampling.TopP);
        Assert.Equal(5, seen.Sampling.TopK);
        Assert.Equal(42UL, seen.Sampling.Seed);
        Assert.NotNull(seen.Deadline);
        // grpc sends the deadline as a timeout, rounded; the server re-anchors it on its clock.
        Assert.InRange(seen.Deadline!.Value, deadline.AddSeconds(-5), deadline.AddSeconds(5));
    }

    [Fact]
    public async Task GenerateStream_SendsDeltasThenExactlyOneFinal()
    {
        var (server, _) = await StartAsync();
        await using var _server = server;

        using var call = server.Inference.GenerateStream(Prompt("a bb ccc"));
        var frames = new List<GenerateStreamResponse>();
        await foreach (var frame in call.ResponseStream.ReadAllAsync()) frames.Add(frame);

        Assert.Equal(["a ", "bb ", "ccc "], frames.SkipLast(1).Select(frame => frame.Delta.Text));
        Assert.Equal(GenerateStreamResponse.FrameOneofCase.Final, frames[^1].FrameCase);
        Assert.Equal(3, frames[^1].Final.Usage.CompletionTokens);
        Assert.Equal(ServedFrom.Base, frames[^1].Final.ServedFrom);
    }

    [Fact]
    public async Task CancellingAStreamMidway_CancelsTheEngineRequest()
    {
        var (server, engine) = await StartAsync();
        await using var _server = server;
        using var cancellation = new CancellationTokenSource();

        using var call = server.Inference.GenerateStream(Prompt("hang"), cancellationToken: cancellation.Token);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal("first", call.ResponseStream.Current.Delta.Text);
        cancellation.Cancel();

        await engine.CancellationObserved.Task.WaitAsync(Patience);
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
    }

    [Fact]
    public async Task Chat_RendersChatMlWhenTheModelHasNoTemplate_AndSaysSo()
    {
        var (server, engine) = await StartAsync();
        await using var _server = server;
        var request = new ChatRequest { Messages = { new ChatMessage { Role = "system", Content = "Be brief." }, new ChatMessage { Role = "user", Content = "hi" } } };

        var response = await server.Inference.ChatAsync(request);

        Assert.Equal("chatml", response.ChatTemplate);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", engine.LastRequest!.PromptText);
        Assert.Contains("<|im_end|>", engine.LastRequest.StopStrings);
        Assert.False(engine.LastRequest.AddSpecialTokens);
    }

    private static FakeEngine WithChatTemplate(string template) => new()
    {
        Model = new("fake-model", "llama", InferServer.Engine.ModelKind.TextGeneration, 2048, template, [], BosToken: "<s>", EosToken: "</s>"),
    };

    private static ChatRequest Conversation(params (string Role, string Content)[] messages)
    {
        var request = new ChatRequest();
        request.Messages.AddRange(messages.Select(message => new ChatMessage { Role = message.Role, Content = message.Content }));
        return request;
    }

    [Fact]
    public async Task Chat_RendersTheModelsOwnTemplate_ByDefault_WithoutAddingSpecialTokens()
    {
        // Mistral 7B Instruct v0.1's template: it writes BOS itself, so the prompt must not get a second one.
        var engine = WithChatTemplate(
            "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
            + "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% endif %}{% endfor %}");
        var (server, _) = await StartAsync(engine: engine);
        await using var _server = server;
        var request = Conversation(("user", "hi"), ("assistant", "hello"), ("user", "how are you?"));

        var response = await server.Inference.ChatAsync(request);

        Assert.Equal("model", response.ChatTemplate);
        Assert.Equal("<s>[INST] hi [/INST]hello</s> [INST] how are you? [/INST]", engine.LastRequest!.PromptText);
        Assert.False(engine.LastRequest.AddSpecialTokens);
        // The fake tokenizer stops on nothing by id, so the EOS text is a stop string.
        Assert.Contains("</s>", engine.LastRequest.StopStrings);

        request.ChatTemplate = "model";
        using var call = server.Inference.ChatStream(request);
        var frames = new List<GenerateStreamResponse>();
        await foreach (var frame in call.ResponseStream.ReadAllAsync()) frames.Add(frame);
        Assert.Equal("model", frames[^1].Final.ChatTemplate);
    }

    [Fact]
    public async Task Chat_AConversationTheModelsTemplateRefuses_IsInvalidArgument_WithTheTemplatesMessage()
    {
        var engine = WithChatTemplate(
            "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{{ message['content'] }}{% endfor %}");
        var (server, _) = await StartAsync(engine: engine);
        await using var _server = server;

        var error = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.ChatAsync(Conversation(("user", "a"), ("user", "b"))));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("Conversation roles must alternate user/assistant/user/assistant/...", error.Status.Detail);
        var violation = Assert.Single(error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations);
        Assert.Equal("messages", violation.Field);
    }

    [Fact]
    public async Task Chat_WithAModelTemplateThatCannotBeParsed_IsFailedPrecondition_UnlessABuiltInIsNamed()
    {
        var engine = WithChatTemplate("{% for m in messages %}{{ m.content }}");
        var (server, _) = await StartAsync(engine: engine);
        await using var _server = server;
        var request = Conversation(("user", "hi"));

        var error = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.ChatAsync(request));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("cannot be parsed", error.Status.Detail);
        Assert.Contains("line 1", error.Status.Detail);

        request.ChatTemplate = "llama3";
        using var call = server.Inference.ChatStream(request);
        var frames = new List<GenerateStreamResponse>();
        await foreach (var frame in call.ResponseStream.ReadAllAsync()) frames.Add(frame);
        Assert.Equal("llama3", frames[^1].Final.ChatTemplate);
        Assert.StartsWith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", engine.LastRequest!.PromptText);
    }

    [Fact]
    public async Task Chat_AskingForTheModelsTemplate_WhenItHasNone_IsFailedPrecondition()
    {
        var (server, _) = await StartAsync();
        await using var _server = server;
        var request = Conversation(("user", "hi"));
        request.ChatTemplate = "model";

        var error = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.ChatAsync(request));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
    }

    [Fact]
    public async Task Classify_ReturnsEveryLabelPerText()
    {
        var (server, _) = await StartAsync();
        await using var _server = server;

        var response = await server.Inference.ClassifyAsync(new ClassifyRequest { Adapter = "alpha", Texts = { "good", "bad film" } });

        Assert.Equal(2, response.Results.Count);
        Assert.Equal("positive", response.Results[0].Scores[0].Label);
        Assert.Equal(8, response.Results[1].PromptTokens);
        Assert.Equal(ServedFrom.Loaded, response.ServedFrom);
    }

    [Fact]
    public async Task UnknownAdapter_IsNotFound()
    {
        var (server, _) = await StartAsync();
        await using var _server = server;

        var error = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(Prompt("x", "nope")));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains("nope", error.Status.Detail);
    }

    [Fact]
    public async Task BadParameters_AreInvalidArgument_NamingEveryFieldInBadRequestDetails()
    {
        var (server, _) = await StartAsync();
        await using var _server = server;
        var request = Prompt("x");
        request.Params = new GenerationParams { MaxNewTokens = 100_000, TopLogprobs = 3, Sampling = new SamplingParams { TopP = 1.5, Temperature = 3 } };

        var error = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var fields = error.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(violation => violation.Field).ToList();
        Assert.Equal(["params.max_new_tokens", "params.sampling.temperature", "params.sampling.top_p", "params.top_logprobs"], fields);
        Assert.Contains("params.sampling.top_p", error.Status.Detail);
    }

    [Fact]
    public async Task MissingPrompt_AndEngineValidation_AreInvalidArgument()
    {
        var (server, _) = await StartAsync();
        await using var _server = server;

        var missing = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(new GenerateRequest()));
        Assert.Equal(StatusCode.InvalidArgument, missing.StatusCode);
        Assert.Equal("prompt", missing.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);

        var engineSide = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(Prompt("invalid")));
        Assert.Equal(StatusCode.InvalidArgument, engineSide.StatusCode);
        Assert.Equal("prompt", engineSide.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
    }

    [Fact]
    public async Task ConfiguredLimits_RefuseTooManyTextsMessagesAndTooLargeMessages()
    {
        var (server, _) = await StartAsync(new Dictionary<string, string?>
        {
            ["Api:MaxClassifyTexts"] = "2",
            ["Api:MaxChatMessages"] = "1",
            ["Api:MaxReceiveMessageBytes"] = "2048",
        });
        await using var _server = server;

        var texts = await Assert.ThrowsAsync<RpcException>(async () =>
            await server.Inference.ClassifyAsync(new ClassifyRequest { Texts = { "a", "b", "c" } }));
        Assert.Equal(StatusCode.InvalidArgument, texts.StatusCode);
        Assert.Contains("texts", texts.Status.Detail);

        var chat = new ChatRequest { Messages = { new ChatMessage { Role = "user", Content = "a" }, new ChatMessage { Role = "user", Content = "b" } } };
        var messages = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.ChatAsync(chat));
        Assert.Equal(StatusCode.InvalidArgument, messages.StatusCode);
        Assert.Contains("messages", messages.Status.Detail);

        var large = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(Prompt(new string('x', 4096))));
        Assert.Equal(StatusCode.ResourceExhausted, large.StatusCode);
    }

    [Fact]
    public async Task FullQueue_IsResourceExhausted_WithRetryInfo()
    {
        var (server, engine) = await StartAsync(engine: new FakeEngine { QueueCapacity = 1 });
        await using var _server = server;
        using var cancellation = new CancellationTokenSource();
        using var occupying = server.Inference.GenerateStream(Prompt("hang"), cancellationToken: cancellation.Token);
        await engine.Hanging.Task.WaitAsync(Patience);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(Prompt("hang")));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(1, error.GetRpcStatus()!.GetDetail<RetryInfo>().RetryDelay.Seconds);
        cancellation.Cancel();
        await engine.CancellationObserved.Task.WaitAsync(Patience);
    }

    [Fact]
    public async Task Deadlines_AreDeadlineExceeded_FromTheEngineAndFromTheCall()
    {
        var (server, engine) = await StartAsync();
        await using var _server = server;

        var fromEngine = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(Prompt("deadline")));
        Assert.Equal(StatusCode.DeadlineExceeded, fromEngine.StatusCode);

        var fromCall = await Assert.ThrowsAsync<RpcException>(async () =>
            await server.Inference.GenerateAsync(Prompt("hang"), deadline: DateTime.UtcNow.AddMilliseconds(300)));
        Assert.Equal(StatusCode.DeadlineExceeded, fromCall.StatusCode);
        await engine.CancellationObserved.Task.WaitAsync(Patience);
    }

    [Fact]
    public async Task UnexpectedException_IsInternal_WithoutItsMessage()
    {
        var (server, _) = await StartAsync();
        await using var _server = server;

        var error = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(Prompt("boom")));

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.DoesNotContain("secret", error.Status.Detail);
    }

    [Fact]
    public async Task InferenceKeys_WhenConfigured_AreRequired()
    {
        const string key = "inference-key-0123456789";
        var (server, _) = await StartAsync(new Dictionary<string, string?> { ["Security:InferenceApiKeys:0"] = key });
        await using var _server = server;

        var anonymous = await Assert.ThrowsAsync<RpcException>(async () => await server.Inference.GenerateAsync(Prompt("x")));
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);

        var response = await server.Inference.GenerateAsync(Prompt("x"), new Metadata { { "x-api-key", key } });
        Assert.Equal("x ", response.Text);

        var viaAdminKey = await server.Inference.GenerateAsync(Prompt("y"), TestServer.AdminHeaders);
        Assert.Equal("y ", viaAdminKey.Text);
    }
}
