using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using InferServer.AdapterStore.Registry;
using InferServer.Engine;
using InferServer.Server.Observability;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// The OpenAI-compatible HTTP API, thin like the gRPC services: read the body against an allow-list, map through the
/// gRPC API's validation to engine requests, run them, map the results. Every failure goes through
/// <see cref="ErrorClassifier"/> (the table the gRPC interceptor uses) to an HTTP status and OpenAI's error body; API keys
/// are <see cref="ApiKeys"/>' rule, so the same keys open both front doors.
/// </summary>
public sealed partial class OpenAiApi(
    IInferenceEngine engine,
    IAdapterRegistry registry,
    ApiKeys apiKeys,
    IOptions<ApiOptions> options,
    InferServerMetrics metrics,
    AdapterLabels adapterLabels,
    AdapterHealthPublisher adapterHealth,
    TimeProvider timeProvider,
    IHostApplicationLifetime host,
    ILogger<OpenAiApi> logger,
    RequestLog requestLog)
{
    private const string ServerSentEvents = "text/event-stream";
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private readonly ApiOptions limits = options.Value;
    private readonly long started = timeProvider.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>POST /v1/completions.</summary>
    public Task CompletionsAsync(HttpContext context) => HandleAsync(context, "v1/completions", ApiKeyScope.Inference, async state =>
    {
        var call = OpenAiRequestReader.ReadCompletion(await ReadBodyAsync(context), limits);
        state.Begin(call.Common, chat: false, AdapterLabel(call.Common));
        var requests = OpenAiMapper.ToDomain(call, engine.Model, limits);
        Log.Generation(logger, state.Endpoint, call.Common.Model, call.Common.User ?? "", requests.Count, call.Common.Stream);
        await using var streams = await ChoiceStreams.StartAsync(engine, requests, context.RequestAborted);
        var id = "cmpl-" + Guid.NewGuid().ToString("N");
        var created = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        var usages = new Engine.Usage?[requests.Count];
        if (call.Common.Stream)
        {
            StartEventStream(context);
            await foreach (var (choice, generationEvent) in streams.ReadAllAsync(context.RequestAborted))
            {
                var piece = generationEvent switch
                {
                    TokenDelta delta => new CompletionChoice(choice, delta.Text, OpenAiMapper.CompletionLogprobs(delta.Logprobs, engine.TokenBytes), null),
                    GenerationFinished finished => Finish(state, usages, choice, finished,
                        new CompletionChoice(choice, "", null, OpenAiMapper.FinishReason(finished.Reason))),
                    _ => null,
                };
                if (piece is not null)
                {
                    await WriteEventAsync(context, new CompletionChunk(id, "text_completion", created, call.Common.Model, [piece], null));
                }
            }
            if (call.Common.IncludeUsage)
            {
                await WriteEventAsync(context, new CompletionChunk(id, "text_completion", created, call.Common.Model, [], OpenAiMapper.Usage(usages, call.Common.Choices)));
            }

            await context.Response.Body.WriteAsync(Done, context.RequestAborted);
            return;
        }
        var texts = requests.Select(_ => new StringBuilder()).ToArray();
        var logprobs = requests.Select(_ => new List<CompletionLogprobs?>()).ToArray();
        var reasons = new string?[requests.Count];
        await foreach (var (choice, generationEvent) in streams.ReadAllAsync(context.RequestAborted))
        {
            if (generationEvent is TokenDelta delta)
            {
                texts[choice].Append(delta.Text);
                logprobs[choice].Add(OpenAiMapper.CompletionLogprobs(delta.Logprobs, engine.TokenBytes));
            }
            else if (generationEvent is GenerationFinished finished)
            {
                reasons[choice] = Finish(state, usages, choice, finished, OpenAiMapper.FinishReason(finished.Reason));
            }
        }
        var choices = texts.Select((text, choice) => new CompletionChoice(choice, text.ToString(), OpenAiMapper.Join(logprobs[choice]), reasons[choice])).ToList();
        await context.Response.WriteAsJsonAsync(
            new CompletionResponse(id, "text_completion", created, call.Common.Model, choices, OpenAiMapper.Usage(usages, call.Common.Choices)),
            OpenAiJson.Options, context.RequestAborted);
    });

    /// <summary>POST /v1/chat/completions.</summary>
    public Task ChatCompletionsAsync(HttpContext context) => HandleAsync(context, "v1/chat/completions", ApiKeyScope.Inference, async state =>
    {
        var call = OpenAiRequestReader.ReadChat(await ReadBodyAsync(context), limits);
        state.Begin(call.Common, chat: true, AdapterLabel(call.Common));
        var (requests, prompt) = OpenAiMapper.ToDomainWithPrompt(call, engine.Model, limits);
        Log.Generation(logger, state.Endpoint, call.Common.Model, call.Common.User ?? "", requests.Count, call.Common.Stream);
        await using var streams = await ChoiceStreams.StartAsync(engine, requests, context.RequestAborted);
        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        var usages = new Engine.Usage?[requests.Count];
        if (call.Common.Stream)
        {
            StartEventStream(context);
            ChatCompletionChunk Chunk(ChatChunkChoice choice) => new(id, "chat.completion.chunk", created, call.Common.Model, [choice], null);
            var toolStreams = prompt.Tools is { } tools ? requests.Select(_ => new ToolCallStream(tools)).ToArray() : null;
            for (var choice = 0; choice < requests.Count; choice++)
            {
                await WriteEventAsync(context, Chunk(new ChatChunkChoice(choice, new ChatDelta("assistant", ""), null, null)));
            }

            await foreach (var (choice, generationEvent) in streams.ReadAllAsync(context.RequestAborted))
            {
                foreach (var piece in ChatPieces(state, usages, choice, generationEvent, toolStreams?[choice]))
                {
                    await WriteEventAsync(context, Chunk(piece));
                }
            }
            if (call.Common.IncludeUsage)
            {
                await WriteEventAsync(context, new ChatCompletionChunk(id, "chat.completion.chunk", created, call.Common.Model, [], OpenAiMapper.Usage(usages, call.Common.Choices)));
            }

            await context.Response.Body.WriteAsync(Done, context.RequestAborted);
            return;
        }
        var texts = requests.Select(_ => new StringBuilder()).ToArray();
        var logprobs = requests.Select(_ => new List<ChatTokenLogprob>()).ToArray();
        var reasons = new string?[requests.Count];
        await foreach (var (choice, generationEvent) in streams.ReadAllAsync(context.RequestAborted))
        {
            if (generationEvent is TokenDelta delta)
            {
                texts[choice].Append(delta.Text);
                if (OpenAiMapper.ChatLogprobs(delta.Logprobs, engine.TokenBytes) is { } part)
                {
                    logprobs[choice].AddRange(part.Content);
                }
            }
            else if (generationEvent is GenerationFinished finished)
            {
                reasons[choice] = Finish(state, usages, choice, finished, OpenAiMapper.FinishReason(finished.Reason));
            }
        }
        var choices = texts.Select((text, choice) =>
        {
            var reply = new ChatReply("assistant", text.ToString());
            // A reply cut by max_tokens is never read as a call: its arguments may be unfinished.
            if (prompt.Tools is { } tools && reasons[choice] != "length" && tools.Parse(text.ToString()) is { } parsed)
            {
                reply = new ChatReply("assistant", parsed.Content.Length == 0 ? null : parsed.Content) { ToolCalls = ToolCallStream.Message(parsed.Calls) };
                reasons[choice] = "tool_calls";
            }

            return new ChatChoice(choice, reply, call.Common.Params.Logprobs ? new ChatLogprobs(logprobs[choice]) : null, reasons[choice]);
        }).ToList();
        await context.Response.WriteAsJsonAsync(
            new ChatCompletionResponse(id, "chat.completion", created, call.Common.Model, choices, OpenAiMapper.Usage(usages, call.Common.Choices)),
            OpenAiJson.Options, context.RequestAborted);
    });

    // The chunks one engine event of a streamed chat choice becomes. With tools, text that may be a call is held back
    // and, at the end, sent as tool-call deltas (finish_reason "tool_calls") or as the content it turned out to be.
    private List<ChatChunkChoice> ChatPieces(CallState state, Engine.Usage?[] usages, int choice, GenerationEvent generationEvent, ToolCallStream? tools)
    {
        var pieces = new List<ChatChunkChoice>();
        switch (generationEvent)
        {
            case TokenDelta delta:
                var logprobs = OpenAiMapper.ChatLogprobs(delta.Logprobs, engine.TokenBytes);
                var content = tools is null ? delta.Text : tools.Append(delta.Text);
                if (tools is null || content.Length > 0 || logprobs is not null)
                {
                    pieces.Add(new ChatChunkChoice(choice, new ChatDelta(null, content), logprobs, null));
                }

                break;
            case GenerationFinished finished:
                var reason = OpenAiMapper.FinishReason(finished.Reason);
                if (tools is not null)
                {
                    var (rest, calls) = tools.Finish(finished.Reason);
                    if (rest.Length > 0)
                    {
                        pieces.Add(new ChatChunkChoice(choice, new ChatDelta(null, rest), null, null));
                    }

                    pieces.AddRange(ToolCallStream.Deltas(calls).Select(call =>
                        new ChatChunkChoice(choice, new ChatDelta(null, null) { ToolCalls = [call] }, null, null)));
                    reason = calls.Count > 0 ? "tool_calls" : reason;
                }

                pieces.Add(Finish(state, usages, choice, finished, new ChatChunkChoice(choice, new ChatDelta(null, null), null, reason)));
                break;
        }
        return pieces;
    }

    /// <summary>POST /v1/embeddings: the engine's Embed (model = base or adapter), vectors as floats or base64.</summary>
    public Task EmbeddingsAsync(HttpContext context) => HandleAsync(context, "v1/embeddings", ApiKeyScope.Inference, async state =>
    {
        var call = OpenAiRequestReader.ReadEmbedding(await ReadBodyAsync(context), limits);
        var common = new OpenAiCommon(call.Model, new InferServer.Api.V1.GenerationParams(), Choices: 1, Stream: false, IncludeUsage: false, call.User, "max_tokens");
        state.Begin(common, chat: false, AdapterLabel(common));
        Log.Generation(logger, state.Endpoint, call.Model, call.User ?? "", call.Input.Count, stream: false);
        var result = await engine.EmbedAsync(
            new EmbeddingRequest(OpenAiMapper.AdapterOf(call.Model, engine.Model), call.Input), context.RequestAborted);
        var width = result.Results[0].Vector.Length;
        // Vectors are never truncated: sentence-transformers models are not trained for it (OpenAI's v3 models are).
        if (call.Dimensions is { } dimensions && dimensions != width)
        {
            throw new RequestValidationException("dimensions", $"only the model's own width {width} is supported, not {dimensions}");
        }

        var data = result.Results.Select((text, index) => new EmbeddingItem("embedding", index,
            call.Base64 ? Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(text.Vector.AsSpan())) : text.Vector)).ToList();
        var tokens = result.Results.Sum(r => r.PromptTokens);
        await context.Response.WriteAsJsonAsync(new EmbeddingList("list", data, call.Model, new EmbeddingUsage(tokens, tokens)),
            OpenAiJson.Options, context.RequestAborted);
    });

    /// <summary>
    /// POST /classify (vLLM's): {model, input} to {id, object "list", created, model, data: [{index, label, probs, num_classes}],
    /// usage}; probs are in label-index order and label is the most probable one (the lower index on a tie).
    /// </summary>
    public Task ClassifyAsync(HttpContext context) => HandleAsync(context, "classify", ApiKeyScope.Inference, async state =>
    {
        var call = OpenAiRequestReader.ReadClassify(await ReadBodyAsync(context), limits);
        var common = new OpenAiCommon(call.Model, new InferServer.Api.V1.GenerationParams(), Choices: 1, Stream: false, IncludeUsage: false, call.User, "max_tokens");
        state.Begin(common, chat: false, AdapterLabel(common));
        Log.Generation(logger, state.Endpoint, call.Model, call.User ?? "", call.Input.Count, stream: false);
        var result = await engine.ClassifyAsync(
            new ClassificationRequest(OpenAiMapper.AdapterOf(call.Model, engine.Model), call.Input), context.RequestAborted);
        var data = result.Results.Select((text, index) =>
        {
            var byIndex = text.Scores.OrderBy(score => score.Index).ToArray();
            var best = text.Scores.OrderByDescending(score => score.Score).ThenBy(score => score.Index).First();
            return new ClassificationItem(index, best.Label, byIndex.Select(score => score.Score).ToArray(), byIndex.Length);
        }).ToList();
        var tokens = result.Results.Sum(r => r.PromptTokens);
        await context.Response.WriteAsJsonAsync(new ClassificationList("classify-" + Guid.NewGuid().ToString("N"), "list",
            timeProvider.GetUtcNow().ToUnixTimeSeconds(), call.Model, data, new ClassificationUsage(tokens, tokens, 0)),
            OpenAiJson.Options, context.RequestAborted);
    });

    /// <summary>POST /tokenize (vLLM's): {model, prompt | messages, add_special_tokens?, add_generation_prompt?} to {count, max_model_len, tokens}.</summary>
    public Task TokenizeAsync(HttpContext context) => HandleAsync(context, "tokenize", ApiKeyScope.Inference, async state =>
    {
        var (model, request) = OpenAiRequestReader.ReadTokenize(await ReadBodyAsync(context));
        request.Adapter = OpenAiMapper.AdapterOf(model, engine.Model);
        var response = TokenizationMapper.Tokenize(request, engine, registry, limits);
        await context.Response.WriteAsJsonAsync(new TokenizeResult(response.Count, response.MaxModelLen, response.TokenIds),
            OpenAiJson.Options, context.RequestAborted);
    });

    /// <summary>POST /detokenize (vLLM's): {model, tokens} to {prompt}.</summary>
    public Task DetokenizeAsync(HttpContext context) => HandleAsync(context, "detokenize", ApiKeyScope.Inference, async state =>
    {
        var (model, request) = OpenAiRequestReader.ReadDetokenize(await ReadBodyAsync(context));
        request.Adapter = OpenAiMapper.AdapterOf(model, engine.Model);
        var response = TokenizationMapper.Detokenize(request, engine, registry, limits);
        await context.Response.WriteAsJsonAsync(new DetokenizeResult(response.Prompt), OpenAiJson.Options, context.RequestAborted);
    });

    /// <summary>GET /v1/models: the base model by its served name, then every registered adapter with the base as parent.</summary>
    public Task ModelsAsync(HttpContext context) => HandleAsync(context, "v1/models", ApiKeyScope.Inference, state =>
    {
        var model = engine.Model;
        var cards = new List<ModelCard> { new(model.ServedName, "model", started, "inferserver", model.ServedName, null, model.MaxContextTokens) };
        cards.AddRange(registry.List().OrderBy(adapter => adapter.Name, StringComparer.Ordinal)
            .Select(adapter => new ModelCard(adapter.Name, "model", started, "inferserver", adapter.Name, model.ServedName, model.MaxContextTokens)));
        return context.Response.WriteAsJsonAsync(new ModelList("list", cards), OpenAiJson.Options, context.RequestAborted);
    });

    /// <summary>POST /v1/load_lora_adapter {lora_name, lora_path, load_inplace?}: vLLM's dynamic LoRA loading, admin key required.</summary>
    public Task LoadLoraAdapterAsync(HttpContext context) => HandleAsync(context, "v1/load_lora_adapter", ApiKeyScope.Admin, async state =>
    {
        var call = OpenAiRequestReader.ReadLoad(await ReadBodyAsync(context));
        state.AdapterField = "lora_name";
        var adapter = await registry.LoadAsync(call.Name, call.Path, call.Reload, context.RequestAborted);
        adapterHealth.Synchronize();
        Log.AdapterLoaded(logger, adapter.Name, adapter.Directory);
        await context.Response.WriteAsync($"Success: LoRA adapter '{adapter.Name}' added successfully.", context.RequestAborted);
    });

    /// <summary>POST /v1/unload_lora_adapter {lora_name}, admin key required.</summary>
    public Task UnloadLoraAdapterAsync(HttpContext context) => HandleAsync(context, "v1/unload_lora_adapter", ApiKeyScope.Admin, async state =>
    {
        var name = OpenAiRequestReader.ReadUnload(await ReadBodyAsync(context));
        state.AdapterField = "lora_name";
        await registry.UnloadAsync(name, context.RequestAborted);
        adapterHealth.Synchronize();
        Log.AdapterUnloaded(logger, name);
        await context.Response.WriteAsync($"Success: LoRA adapter '{name}' removed successfully.", context.RequestAborted);
    });

    /// <summary>What a handler learns as it goes, for error mapping, metrics and the trace.</summary>
    private sealed class CallState(string endpoint)
    {
        public string Endpoint { get; } = endpoint;
        public OpenAiCommon? Common { get; private set; }
        public bool Chat { get; private set; }
        public string AdapterField { get; set; } = "model";
        public string AdapterLabel { get; private set; } = Observability.AdapterLabels.Base;
        public string? Adapter { get; private set; }
        public Activity? Activity { get; private set; }

        public void Begin(OpenAiCommon common, bool chat, (string? Adapter, string Label) adapter)
        {
            Common = common;
            Chat = chat;
            (Adapter, AdapterLabel) = adapter;
            Activity = InferServerTelemetry.ActivitySource.StartActivity($"inferserver.openai.{Endpoint}");
            Activity?.SetTag("inferserver.adapter", adapter.Label);
        }
    }

    private async Task HandleAsync(HttpContext context, string endpoint, ApiKeyScope scope, Func<CallState, Task> handle)
    {
        var state = new CallState(endpoint);
        var status = StatusCode.OK;
        var begun = timeProvider.GetTimestamp();
        try
        {
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            {
                bodySize.MaxRequestBodySize = limits.MaxReceiveMessageBytes;
            }

            apiKeys.Authorize(scope, "the OpenAI-compatible API" + (scope == ApiKeyScope.Admin ? "'s adapter endpoints" : ""),
                context.Request.Headers.Authorization, context.Request.Headers["x-api-key"]);
            await handle(state);
        }
        catch (Exception exception)
        {
            var error = ErrorClassifier.Classify(exception, state.AdapterField, deadlinePassed: false, context.RequestAborted.IsCancellationRequested);
            status = error.Code;
            if (error.Code == StatusCode.Internal)
            {
                Log.UnhandledException(logger, endpoint, exception);
            }
            else
            {
                Log.RequestFailed(logger, endpoint, state.Adapter ?? "", error.Code);
            }

            if (error.Code != StatusCode.Cancelled)
            {
                await WriteErrorAsync(context, state, error);
            }
        }
        finally
        {
            state.Activity?.Dispose();
            var label = state.Adapter is null ? Observability.AdapterLabels.Base : adapterLabels.For(state.Adapter, succeeded: status == StatusCode.OK);
            metrics.RequestCompleted(label, "openai/" + endpoint, status.ToString());
            requestLog.Completed("openai", endpoint, state.Adapter, status.ToString(), timeProvider.GetElapsedTime(begun));
        }
    }

    private static async Task WriteErrorAsync(HttpContext context, CallState state, ApiError error)
    {
        var body = OpenAiErrors.Body(error, field => OpenAiMapper.ParamName(field, state.Common, state.Chat));
        if (context.Response.HasStarted)
        {
            // Mid-stream: the status line is gone; OpenAI's clients read an error event (and vLLM sends one the same way).
            if (context.Response.ContentType == ServerSentEvents)
            {
                await WriteEventAsync(context, body);
                await context.Response.Body.WriteAsync(Done);
            }
            return;
        }
        context.Response.StatusCode = OpenAiErrors.HttpStatus(error.Code);
        if (error.Code == StatusCode.ResourceExhausted)
        {
            context.Response.Headers.RetryAfter = Math.Ceiling(RpcErrors.QueueFullRetryDelay.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        if (error.Code == StatusCode.Unauthenticated)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }

        await context.Response.WriteAsJsonAsync(body, OpenAiJson.Options);
    }

    private (string? Adapter, string Label) AdapterLabel(OpenAiCommon common)
    {
        var adapter = OpenAiMapper.AdapterOf(common.Model, engine.Model);
        return (adapter, adapterLabels.For(adapter, succeeded: false));
    }

    private T Finish<T>(CallState state, Engine.Usage?[] usages, int choice, GenerationFinished finished, T piece)
    {
        usages[choice] = finished.Usage;
        metrics.GenerationFinished(adapterLabels.For(state.Adapter, succeeded: true), finished);
        GenerationTrace.RecordPhases(state.Activity, finished.Timing);
        return piece;
    }

    private async Task<JsonElement> ReadBodyAsync(HttpContext context)
    {
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, host.ApplicationStopping);
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: reading.Token);
            if (UnreadableStrings.FirstIn(document.RootElement) is { } field)
            {
                throw new RequestValidationException(field, "holds an unpaired UTF-16 surrogate escape (\\uD800 to \\uDFFF without its pair), which is no text");
            }

            return document.RootElement.Clone();
        }
        catch (JsonException exception)
        {
            throw new RequestValidationException("body", $"is not valid JSON: {exception.Message}");
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException exception)
        {
            // Kestrel refused the body while we read it (over the size limit, or arriving too slowly): the client's
            // fault, not an internal error.
            throw new RequestValidationException("body", exception.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? $"is larger than the limit of {context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize} bytes"
                : exception.Message);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException)
        {
            // A body still arriving when the server begins to stop would only be refused (the engine admits nothing from
            // then on): refuse it now, so that the shutdown does not wait for a slow upload.
            if (host.ApplicationStopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
            {
                throw new EngineStoppedException();
            }

            throw new ClientGoneException(exception);
        }
    }

    private static void StartEventStream(HttpContext context)
    {
        context.Response.ContentType = ServerSentEvents;
        context.Response.Headers.CacheControl = "no-cache";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    private static async Task WriteEventAsync<T>(HttpContext context, T payload)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(payload, OpenAiJson.Options);
        var body = context.Response.Body;
        await body.WriteAsync("data: "u8.ToArray(), context.RequestAborted);
        await body.WriteAsync(json, context.RequestAborted);
        await body.WriteAsync("\n\n"u8.ToArray(), context.RequestAborted);
        await body.FlushAsync(context.RequestAborted);
    }
}
