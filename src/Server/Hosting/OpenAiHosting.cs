using System.Net;
using InferServer.Server.Api;
using InferServer.Server.Api.OpenAi;
using InferServer.Server.Observability;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Hosting;

/// <summary>The OpenAI-compatible HTTP API and the model-server protocol metrics, in the same host as the gRPC API.</summary>
public static partial class OpenAiHosting
{
    /// <summary>
    /// Listens on Api:Host:Api:OpenAiPort with cleartext HTTP/1.1, unless the port is -1 or Kestrel:Endpoints configures
    /// Kestrel; registers the API and the protocol metrics. HTTP/2 needs TLS here: Kestrel negotiates HTTP/2 only through
    /// ALPN on an endpoint that also speaks HTTP/1.1, so HTTP/2 is served when Kestrel:Endpoints configures a TLS endpoint
    /// with Protocols Http1AndHttp2 (the routes answer on every endpoint then).
    /// </summary>
    public static WebApplicationBuilder AddOpenAiApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IValidateOptions<ApiOptions>, OpenAiOptionsValidator>();
        builder.Services.AddOptionsWithValidateOnStart<MetricsOptions>().BindConfiguration("Metrics");
        builder.Services.AddSingleton<ModelServerProtocolMetrics>();
        builder.Services.AddSingleton<OpenAiListener>();
        builder.Services.AddSingleton<OpenAiExchange>();
        builder.Services.AddSingleton<OpenAiApi>();
        builder.Services.AddSingleton<OpenAiAdminApi>();
        var kestrelEndpointsConfigured = builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Any();
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<ApiOptions>, OpenAiListener>((kestrel, apiOptions, listener) =>
        {
            var api = apiOptions.Value;
            if (kestrelEndpointsConfigured || api.OpenAiPort < 0)
            {
                return;
            }

            var address = api.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(api.Host);
            kestrel.Listen(address, api.OpenAiPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listener.Listen = listen;
            });
        });
        return builder;
    }

    /// <summary>Maps /v1/* and the vLLM-named metrics; once started, creates the protocol metrics' instruments and announces the API's address.</summary>
    public static WebApplication MapOpenAiApi(this WebApplication app)
    {
        app.UseVllmCompatibleMetrics();
        // Resolved per request, so the engine (which OpenAiApi needs) is still built when the host starts, not here.
        static OpenAiApi Api(HttpContext context) => context.RequestServices.GetRequiredService<OpenAiApi>();
        static OpenAiAdminApi Admin(HttpContext context) => context.RequestServices.GetRequiredService<OpenAiAdminApi>();
        // Api:OpenAiPort -1 means off: no OpenAI route on any port.
        if (app.Services.GetRequiredService<IOptions<ApiOptions>>().Value.OpenAiPort >= 0)
        {
            var api = app.MapGroup("/v1").ServedOn(ServedPort.OpenAi);
            api.MapPost("/completions", context => Api(context).CompletionsAsync(context));
            api.MapPost("/chat/completions", context => Api(context).ChatCompletionsAsync(context));
            api.MapPost("/embeddings", context => Api(context).EmbeddingsAsync(context));
            api.MapGet("/models", context => Api(context).ModelsAsync(context));
            api.MapPost("/load_lora_adapter", context => Admin(context).LoadLoraAdapterAsync(context));
            api.MapPost("/unload_lora_adapter", context => Admin(context).UnloadLoraAdapterAsync(context));
            // vLLM serves these at the root, not under /v1.
            app.MapPost("/tokenize", context => Api(context).TokenizeAsync(context)).ServedOn(ServedPort.OpenAi);
            app.MapPost("/detokenize", context => Api(context).DetokenizeAsync(context)).ServedOn(ServedPort.OpenAi);
            app.MapPost("/classify", context => Api(context).ClassifyAsync(context)).ServedOn(ServedPort.OpenAi);
        }
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(OpenAiHosting).FullName!);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            // Observable instruments exist from construction on: create them once the engine is up.
            app.Services.GetRequiredService<ModelServerProtocolMetrics>();
            if (app.Services.GetRequiredService<OpenAiListener>().Address is { } address)
            {
                Log.Listening(logger, address.ToString().TrimEnd('/'));
            }
        });
        return app;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "OpenAI-compatible API listening on {Address} (/v1)", EventName = "OpenAiListening")]
        public static partial void Listening(ILogger logger, string address);
    }
}
