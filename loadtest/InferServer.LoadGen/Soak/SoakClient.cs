using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf.Collections;
using Grpc.Core;
using Grpc.Net.Client;
using InferServer.Api.V1;
using InferServer.LoadGen.Targets;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// Sends one <see cref="SoakCall"/> through a real client: the generated gRPC client over a shared channel, or an
/// HttpClient speaking the OpenAI API. A disconnect gets a channel or HttpClient of its own, which is disposed
/// mid-stream without cancelling the call, as a crashed client or a closed browser tab would.
/// </summary>
public sealed class SoakClient : IDisposable
{
    private readonly SoakTargets targets;
    private readonly SoakOptions options;
    private readonly GrpcChannel channel;
    private readonly Inference.InferenceClient inference;
    private readonly HttpClient http;
    private readonly Metadata headers;
    private readonly string baseModel;

    private SoakClient(SoakTargets targets, SoakOptions options, GrpcChannel channel, HttpClient http, string baseModel)
    {
        this.targets = targets;
        this.options = options;
        this.channel = channel;
        this.http = http;
        this.baseModel = baseModel;
        inference = new Inference.InferenceClient(channel);
        headers = targets.ApiKey is { Length: > 0 } key ? new Metadata { { "authorization", "Bearer " + key } } : [];
    }

    /// <summary>Connects, and asks the OpenAI API for the base model's served name (its "model" for base calls).</summary>
    public static async Task<SoakClient> ConnectAsync(SoakTargets targets, SoakOptions options, CancellationToken cancellationToken)
    {
        var http = CreateHttpClient(targets);
        var models = await http.GetFromJsonAsync<JsonObject>("v1/models", cancellationToken);
        var baseModel = models?["data"]?[0]?["id"]?.GetValue<string>() ?? throw new InvalidOperationException("GET /v1/models named no model");
        return new SoakClient(targets, options, GrpcGenerationTarget.CreateChannel(targets.Grpc), http, baseModel);
    }

    public async Task<SoakOutcome> SendAsync(SoakCall call)
    {
        try
        {
            return call.Kind.IsOpenAi() ? await OpenAiAsync(call) : await GrpcAsync(call);
        }
        catch (RpcException exception)
        {
            return new SoakOutcome(exception.StatusCode.ToString(), null, exception.Status.Detail);
        }
    }

    private async Task<SoakOutcome> GrpcAsync(SoakCall call)
    {
        // A disconnect needs a connection of its own to drop; every other call shares the pooled channel.
        using var own = call.Fate == SoakFate.Disconnect ? GrpcGenerationTarget.CreateChannel(targets.Grpc) : null;
        var client = own is null ? inference : new Inference.InferenceClient(own);
        using var cancellation = new CancellationTokenSource();
        var deadline = DateTime.UtcNow + (call.Fate == SoakFate.Deadline ? call.Deadline : options.CallDeadline);
        switch (call.Kind)
        {
            case SoakCallKind.Generate:
                return Answered((await client.GenerateAsync(Generate(call), headers, deadline, cancellation.Token)).TokenIds);
            case SoakCallKind.Chat:
                return Answered((await client.ChatAsync(Chat(call), headers, deadline, cancellation.Token)).TokenIds);
            case SoakCallKind.Constrained:
                {
                    var response = await client.GenerateAsync(Generate(call), headers, deadline, cancellation.Token);
                    return Structured(call, response.Text, response.FinishReason, response.ToolCalls);
                }
            case SoakCallKind.ToolChat:
                {
                    var response = await client.ChatAsync(Chat(call), headers, deadline, cancellation.Token);
                    return Structured(call, response.Text, response.FinishReason, response.ToolCalls);
                }
            case SoakCallKind.Conversation:
                {
                    int[] first = SoakPrompts.ConversationStart(call.Prompt);
                    var answer = (await client.GenerateAsync(Turn(call, first), headers, deadline, cancellation.Token)).TokenIds.ToArray();
                    var second = (await client.GenerateAsync(Turn(call, [.. first, .. answer, .. SoakPrompts.ConversationFollowUp]), headers,
                        deadline, cancellation.Token)).TokenIds;
                    return Answered([.. answer, -1, .. second]);
                }
        }
        using var stream = call.Kind is SoakCallKind.GenerateStream or SoakCallKind.ConstrainedStream
            ? client.GenerateStream(Generate(call), headers, deadline, cancellation.Token)
            : client.ChatStream(Chat(call), headers, deadline, cancellation.Token);
        var tokens = new List<int>();
        var text = new System.Text.StringBuilder();
        var frames = 0;
        while (await stream.ResponseStream.MoveNext(CancellationToken.None))
        {
            var frame = stream.ResponseStream.Current;
            if (frame.FrameCase == GenerateStreamResponse.FrameOneofCase.Final)
                return call.Kind.IsStructured() ? Structured(call, text.ToString(), frame.Final.FinishReason, frame.Final.ToolCalls) : Answered(tokens);
            tokens.AddRange(frame.Delta.TokenIds);
            text.Append(frame.Delta.Text);
            if (++frames >= call.CutAfterFrames && CutOff(call, cancellation, own) is { } cut)
                return cut;
        }
        return new SoakOutcome(SoakOutcome.StreamWithoutEnd, null);
    }

    /// <summary>
    /// Ends a stream the way its fate says once enough frames arrived: a cancel, or a disconnect (dropping the call's
    /// own connection); null for fates that read to the end.
    /// </summary>
    private static SoakOutcome? CutOff(SoakCall call, CancellationTokenSource cancellation, IDisposable? ownConnection)
    {
        switch (call.Fate)
        {
            case SoakFate.Cancel:
                cancellation.Cancel();
                return new SoakOutcome(SoakOutcome.CancelledByClient, null);
            case SoakFate.Disconnect:
                ownConnection!.Dispose();
                return new SoakOutcome(SoakOutcome.Disconnected, null);
            default:
                return null;
        }
    }

    private async Task<SoakOutcome> OpenAiAsync(SoakCall call)
    {
        using var own = call.Fate == SoakFate.Disconnect ? CreateHttpClient(targets) : null;
        var client = own ?? http;
        using var cancellation = new CancellationTokenSource(options.CallDeadline);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = JsonContent.Create(Completion(call)) };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation.Token);
            if (!response.IsSuccessStatusCode)
            {
                var error = await response.Content.ReadAsStringAsync(cancellation.Token);
                return new SoakOutcome(OpenAiStatus((int)response.StatusCode, error), null, error);
            }
            if (call.Kind == SoakCallKind.Completion)
            {
                var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellation.Token));
                return new SoakOutcome(SoakOutcome.Ok, body?["choices"]?[0]?["text"]?.GetValue<string>());
            }
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellation.Token));
            var text = new System.Text.StringBuilder();
            var events = 0;
            while (await reader.ReadLineAsync(cancellation.Token) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                var data = line["data: ".Length..];
                if (data == "[DONE]") return new SoakOutcome(SoakOutcome.Ok, text.ToString());
                var chunk = JsonNode.Parse(data);
                if (chunk?["error"] is not null) return new SoakOutcome(OpenAiStatus(null, data), null, data);
                text.Append(chunk?["choices"]?[0]?["text"]?.GetValue<string>());
                if (++events >= call.CutAfterFrames && CutOff(call, cancellation, own) is { } cut)
                    return cut;
            }
            return new SoakOutcome(SoakOutcome.StreamWithoutEnd, null);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            return new SoakOutcome(SoakOutcome.ClientTimeout, null);
        }
    }

    /// <summary>
    /// The gRPC status an OpenAI error stands for, read from its error code by the server's own table (OpenAiErrors),
    /// so that both front doors are judged by one set of rules. <paramref name="httpStatus"/> is null for an error event
    /// inside an event stream (the HTTP status was already 200).
    /// </summary>
    public static string OpenAiStatus(int? httpStatus, string body)
    {
        string? code = null;
        try { code = JsonNode.Parse(body)?["error"]?["code"]?.GetValue<string>(); }
        catch (JsonException) { }
        return code switch
        {
            "invalid_value" or "unsupported_parameter" => nameof(StatusCode.InvalidArgument),
            "failed_precondition" => nameof(StatusCode.FailedPrecondition),
            "model_not_found" or "not_found" => nameof(StatusCode.NotFound),
            "queue_full" => nameof(StatusCode.ResourceExhausted),
            "deadline_exceeded" => nameof(StatusCode.DeadlineExceeded),
            "shutting_down" => nameof(StatusCode.Unavailable),
            "cancelled" => nameof(StatusCode.Cancelled),
            "internal_error" => nameof(StatusCode.Internal),
            _ => $"HTTP {httpStatus?.ToString() ?? "event"} {code ?? "without an error code"}",
        };
    }

    private static SoakOutcome Answered(IEnumerable<int> tokens) => new(SoakOutcome.Ok, string.Join(',', tokens));

    /// <summary>
    /// A structured call that ended: a constrained output is checked when complete (not cut by max_new_tokens); a tool
    /// chat's calls are checked unless max_new_tokens cut the reply before its call was whole.
    /// </summary>
    private static SoakOutcome Structured(SoakCall call, string text, FinishReason finish, RepeatedField<ToolCall> calls)
    {
        var complete = finish != FinishReason.Length;
        var problem = !complete ? null
            : call.Kind is SoakCallKind.Constrained or SoakCallKind.ConstrainedStream ? SoakStructured.CheckConstrained(call, text)
            : SoakStructured.CheckToolCalls(call, finish, calls);
        return new SoakOutcome(SoakOutcome.Ok, text, Structured: new StructuredVerdict(complete, calls.Count, problem));
    }

    private GenerationParams Parameters(SoakCall call)
    {
        var parameters = new GenerationParams
        {
            MaxNewTokens = call.MaxNewTokens,
            IgnoreEos = true,
            Sampling = options.SeededSampling
                ? new SamplingParams { Temperature = SeededTemperature, TopP = SeededTopP, Seed = SeedOf(call) }
                : new SamplingParams { Temperature = 0 },
        };
        if (call.Fate != SoakFate.InvalidParameters) return parameters;
        switch (call.InvalidForm)
        {
            case 0: parameters.MaxNewTokens = 1_000_000; break;
            case 1: parameters.Sampling.Temperature = -1; break;
            default: parameters.Sampling.TopP = 1.5; break;
        }
        return parameters;
    }

    private const double SeededTemperature = 0.8;
    private const double SeededTopP = 0.95;

    /// <summary>The seed of a seeded call: one per prompt, so the solo pass and the traffic draw alike.</summary>
    private static ulong SeedOf(SoakCall call) => 4242UL + (ulong)call.Prompt;

    private GenerateRequest Generate(SoakCall call)
    {
        var request = new GenerateRequest { Adapter = call.Adapter, Text = SoakPrompts.Text(call.Prompt), Params = Parameters(call) };
        if (call.Kind.IsStructured())
        {
            // A constrained value ends the output when complete; the EOS is masked until then, so ignore_eos has no part in it.
            request.Params.IgnoreEos = false;
            request.Params.ResponseFormat = SoakStructured.FormatOf(call);
        }
        return request;
    }

    private GenerateRequest Turn(SoakCall call, int[] prompt) =>
        new() { Adapter = call.Adapter, TokenIds = new TokenIds { Ids = { prompt } }, Params = Parameters(call) };

    private ChatRequest Chat(SoakCall call)
    {
        var request = new ChatRequest
        {
            Adapter = call.Adapter,
            Messages = { new ChatMessage { Role = "user", Content = SoakPrompts.Text(call.Prompt) } },
            Params = Parameters(call),
        };
        if (call.Kind.IsStructured())
        {
            // The built-in ChatML template offers tools in Hermes <tool_call> tags (the demo model's own has no tool syntax).
            request.ChatTemplate = "chatml";
            request.Params.IgnoreEos = false;
            request.Tools.Add(SoakStructured.Tools.Select(tool => tool.Clone()));
            request.ToolChoice = SoakStructured.ChoiceOf(call);
        }
        return request;
    }

    private Dictionary<string, object> Completion(SoakCall call)
    {
        var body = new Dictionary<string, object>
        {
            ["model"] = call.Adapter.Length == 0 ? baseModel : call.Adapter,
            ["prompt"] = SoakPrompts.Text(call.Prompt),
            ["max_tokens"] = call.MaxNewTokens,
            ["temperature"] = 0,
            ["ignore_eos"] = true,
            ["stream"] = call.Kind == SoakCallKind.CompletionStream,
        };
        if (options.SeededSampling)
        {
            body["temperature"] = SeededTemperature;
            body["top_p"] = SeededTopP;
            body["seed"] = SeedOf(call);
        }

        if (call.Fate == SoakFate.InvalidParameters)
        {
            switch (call.InvalidForm)
            {
                case 0: body["max_tokens"] = 0; break;
                case 1: body["temperature"] = -1; break;
                default: body["top_p"] = 1.5; break;
            }
        }
        return body;
    }

    private static HttpClient CreateHttpClient(SoakTargets targets)
    {
        var client = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = targets.OpenAi,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (targets.ApiKey is { Length: > 0 } key)
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public void Dispose()
    {
        channel.Dispose();
        http.Dispose();
    }
}
