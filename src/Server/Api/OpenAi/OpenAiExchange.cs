using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using InferServer.Engine;
using InferServer.Server.Observability;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// What every endpoint of the OpenAI-compatible port does around its own work, for the inference endpoints
/// (<see cref="OpenAiApi"/>) and the adapter endpoints (<see cref="OpenAiAdminApi"/>) alike: the body size limit, the API
/// key (<see cref="ApiKeys"/>' rule, so the same keys open both front doors), the body read as JSON, every failure
/// classified by <see cref="ErrorClassifier"/> (the table the gRPC interceptor uses) and written as an HTTP status with
/// OpenAI's error body, and the metrics and request log line of the call.
/// </summary>
public sealed partial class OpenAiExchange(
    ApiKeys apiKeys,
    IOptions<ApiOptions> options,
    InferServerMetrics metrics,
    AdapterLabels adapterLabels,
    TimeProvider timeProvider,
    IHostApplicationLifetime host,
    ILogger<OpenAiExchange> logger,
    RequestLog requestLog)
{
    private const string ServerSentEvents = "text/event-stream";
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    /// <summary>Runs <paramref name="handle"/> for one request to <paramref name="endpoint"/> once the caller holds a key of <paramref name="scope"/>.</summary>
    public async Task HandleAsync(HttpContext context, string endpoint, ApiKeyScope scope, Func<OpenAiCall, Task> handle)
    {
        var call = new OpenAiCall(this, context, endpoint);
        var status = StatusCode.OK;
        var begun = timeProvider.GetTimestamp();
        try
        {
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            {
                bodySize.MaxRequestBodySize = options.Value.MaxReceiveMessageBytes;
            }

            apiKeys.Authorize(scope, "the OpenAI-compatible API" + (scope == ApiKeyScope.Admin ? "'s adapter endpoints" : ""),
                context.Request.Headers.Authorization, context.Request.Headers["x-api-key"]);
            await handle(call);
        }
        catch (Exception exception)
        {
            var error = ErrorClassifier.Classify(exception, call.AdapterField, deadlinePassed: false, context.RequestAborted.IsCancellationRequested);
            status = error.Code;
            if (error.Code == StatusCode.Internal)
            {
                Log.UnhandledException(logger, endpoint, exception);
            }
            else
            {
                Log.RequestFailed(logger, endpoint, call.Adapter ?? "", error.Code);
            }

            if (error.Code != StatusCode.Cancelled)
            {
                await WriteErrorAsync(context, error, call.ParamName);
            }
        }
        finally
        {
            call.Activity?.Dispose();
            var label = call.Adapter is null ? AdapterLabels.Base : adapterLabels.For(call.Adapter, succeeded: status == StatusCode.OK);
            metrics.RequestCompleted(label, "openai/" + endpoint, status.ToString());
            requestLog.Completed("openai", endpoint, call.Adapter, status.ToString(), timeProvider.GetElapsedTime(begun));
        }
    }

    /// <summary>The metrics label of a request for <paramref name="adapter"/> before it has succeeded.</summary>
    internal string LabelOf(string? adapter) => adapterLabels.For(adapter, succeeded: false);

    /// <summary>Counts a finished generation under its adapter and adds its phases to the call's span.</summary>
    internal void GenerationFinished(OpenAiCall call, GenerationFinished finished)
    {
        metrics.GenerationFinished(adapterLabels.For(call.Adapter, succeeded: true), finished);
        GenerationTrace.RecordPhases(call.Activity, finished.Timing);
    }

    internal long UnixSeconds() => timeProvider.GetUtcNow().ToUnixTimeSeconds();

    internal async Task<JsonElement> ReadBodyAsync(HttpContext context)
    {
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, host.ApplicationStopping);
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: reading.Token);
            if (UnreadableStrings.FirstIn(document.RootElement) is { } field)
            {
                throw new RequestValidationException(field, "is no text: it holds bytes that are not UTF-8, or an unpaired UTF-16 surrogate escape (\\uD800 to \\uDFFF without its pair)");
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

    internal static void StartEventStream(HttpContext context)
    {
        context.Response.ContentType = ServerSentEvents;
        context.Response.Headers.CacheControl = "no-cache";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    internal static async Task WriteEventAsync(HttpContext context, object payload)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(payload, payload.GetType(), OpenAiJson.Options);
        var body = context.Response.Body;
        await body.WriteAsync("data: "u8.ToArray(), context.RequestAborted);
        await body.WriteAsync(json, context.RequestAborted);
        await body.WriteAsync("\n\n"u8.ToArray(), context.RequestAborted);
        await body.FlushAsync(context.RequestAborted);
    }

    internal static Task WriteDoneAsync(HttpContext context) => context.Response.Body.WriteAsync(Done, context.RequestAborted).AsTask();

    private static async Task WriteErrorAsync(HttpContext context, ApiError error, Func<string, string> paramName)
    {
        var body = OpenAiErrors.Body(error, paramName);
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

    private static partial class Log
    {
        [LoggerMessage(2, LogLevel.Error, "Unhandled exception in OpenAI {Endpoint}; answered 500", EventName = "OpenAiUnhandledException")]
        public static partial void UnhandledException(ILogger logger, string endpoint, Exception exception);

        [LoggerMessage(3, LogLevel.Debug, "OpenAI {Endpoint} for adapter '{Adapter}' ended with {Status}", EventName = "OpenAiRequestFailed")]
        public static partial void RequestFailed(ILogger logger, string endpoint, string adapter, StatusCode status);
    }
}
