using System.Diagnostics;
using System.Text.Json;
using InferServer.Engine;
using InferServer.Server.Observability;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// One request to the OpenAI-compatible port as a handler sees it: its body, its response, and what the handler learns
/// as it goes (the adapter, how this endpoint names fields) for the error body, the metrics and the trace.
/// </summary>
public sealed class OpenAiCall
{
    private readonly OpenAiExchange exchange;

    internal OpenAiCall(OpenAiExchange exchange, HttpContext context, string endpoint)
    {
        this.exchange = exchange;
        Context = context;
        Endpoint = endpoint;
    }

    /// <summary>The HTTP exchange.</summary>
    public HttpContext Context { get; }

    /// <summary>The route, e.g. "v1/chat/completions".</summary>
    public string Endpoint { get; }

    /// <summary>How this endpoint's body names the adapter (for a NOT_FOUND's field): "model", or "lora_name".</summary>
    public string AdapterField { get; set; } = "model";

    /// <summary>The request's field name for a field of the shared validation (<see cref="OpenAiFieldNames"/>).</summary>
    public Func<string, string> ParamName { get; set; } = OpenAiFieldNames.Of(null, chat: false);

    /// <summary>The adapter the request names; null for the base model or before the body is read.</summary>
    public string? Adapter { get; private set; }

    /// <summary>The call's span, from <see cref="Begin"/> on.</summary>
    public Activity? Activity { get; private set; }

    /// <summary>Reads the body as JSON (a bad body is a 400 naming "body").</summary>
    public Task<JsonElement> ReadBodyAsync() => exchange.ReadBodyAsync(Context);

    /// <summary>Once the body names its model: the adapter it selects, and the call's span.</summary>
    public void Begin(string model, EngineModelInfo baseModel)
    {
        Adapter = OpenAiMapper.AdapterOf(model, baseModel);
        var label = exchange.LabelOf(Adapter);
        Activity = InferServerTelemetry.ActivitySource.StartActivity($"inferserver.openai.{Endpoint}");
        Activity?.SetTag("inferserver.adapter", label);
    }

    /// <summary>Counts a finished generation under its adapter and records its phases on the span.</summary>
    public void Finished(GenerationFinished finished) => exchange.GenerationFinished(this, finished);

    /// <summary>Now, in Unix seconds (OpenAI's <c>created</c>).</summary>
    public long UnixSeconds() => exchange.UnixSeconds();

    /// <summary>Writes <paramref name="payload"/> as the JSON response.</summary>
    public Task WriteJsonAsync(object payload) =>
        Context.Response.WriteAsJsonAsync(payload, payload.GetType(), OpenAiJson.Options, Context.RequestAborted);

    /// <summary>Starts a server-sent event stream.</summary>
    public void StartEventStream() => OpenAiExchange.StartEventStream(Context);

    /// <summary>Writes one event of the stream.</summary>
    public Task WriteEventAsync(object payload) => OpenAiExchange.WriteEventAsync(Context, payload);

    /// <summary>Ends the stream with OpenAI's <c>data: [DONE]</c>.</summary>
    public Task WriteDoneAsync() => OpenAiExchange.WriteDoneAsync(Context);
}
