using InferServer.Engine.Composition;
using InferServer.AdapterStore.Configuration;
using System.Net;
using InferServer.Server.Api;
using InferServer.Engine;
using InferServer.Server.Observability;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Hosting;

/// <summary>
/// Composition of the server, shared by Program.cs and the integration tests (which register a different
/// <see cref="IEngineRuntime"/> before building).
/// </summary>
public static partial class InferServerApplication
{
    /// <summary>Short command-line switches and the configuration keys they set.</summary>
    public static readonly IReadOnlyDictionary<string, string> SwitchMappings = new Dictionary<string, string>
    {
        ["--model"] = "Engine:ModelPath",
        ["--device"] = "Engine:Device",
        ["--dtype"] = "Engine:DType",
        ["--adapters"] = "Adapters:AdapterRoots:0",
        ["--port"] = "Api:GrpcPort",
        ["--http-port"] = "Api:HttpPort",
        ["--openai-port"] = "Api:OpenAiPort",
        ["--host"] = "Api:Host",
    };

    /// <summary>
    /// A builder with configuration, options, telemetry, Kestrel and the gRPC API; the engine is added separately. The
    /// content root is the application's own directory, not the working directory, so its appsettings.json (log levels
    /// included) applies wherever the server is started from (scripts start it from the repository root).
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddCommandLine(args, SwitchMappings.ToDictionary());
        builder.AddInferServerDefaults();
        builder.AddInferServerOptions();
        builder.AddInferServerKestrel();
        builder.AddInferServerApi();
        builder.AddOpenAiApi();
        return builder;
    }

    /// <summary>Engine, Api and Security options, each validated at start with every problem listed.</summary>
    public static WebApplicationBuilder AddInferServerOptions(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptionsWithValidateOnStart<EngineOptions>().BindConfiguration("Engine");
        builder.Services.AddOptionsWithValidateOnStart<AdapterStoreOptions>().BindConfiguration("Adapters");
        builder.Services.AddSingleton<IValidateOptions<AdapterStoreOptions>, AdapterStoreOptionsValidator>();
        builder.Services.AddSingleton<IValidateOptions<EngineOptions>, EngineOptionsValidator>();
        builder.Services.AddOptionsWithValidateOnStart<ApiOptions>().BindConfiguration("Api");
        builder.Services.AddSingleton<IValidateOptions<ApiOptions>, ApiOptionsValidator>();
        builder.Services.AddOptionsWithValidateOnStart<SecurityOptions>().BindConfiguration("Security");
        builder.Services.AddSingleton<IValidateOptions<SecurityOptions>, SecurityOptionsValidator>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        // The host waits for the engine's drain, plus a margin for Kestrel to close connections.
        builder.Services.AddOptions<HostOptions>().Configure<IOptions<ApiOptions>>((host, api) =>
            host.ShutdownTimeout = api.Value.DrainTimeout + TimeSpan.FromSeconds(5));
        return builder;
    }

    /// <summary>
    /// gRPC over cleartext HTTP/2 on Api:Host:Api:GrpcPort and HTTP/1.1 (metrics, health) on Api:HttpPort. When the
    /// Kestrel:Endpoints section is configured (TLS, other addresses), Kestrel's own configuration is used instead.
    /// </summary>
    public static WebApplicationBuilder AddInferServerKestrel(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ServerEndpoints>();
        var kestrelEndpointsConfigured = builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Any();
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<ApiOptions>, IServiceProvider>((kestrel, apiOptions, services) =>
        {
            if (kestrelEndpointsConfigured)
            {
                return;
            }

            var api = apiOptions.Value;
            var endpoints = services.GetRequiredService<ServerEndpoints>();
            var address = api.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(api.Host);
            kestrel.Listen(address, api.GrpcPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                endpoints.Grpc = listen;
            });
            if (api.HttpPort >= 0)
            {
                kestrel.Listen(address, api.HttpPort, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1;
                    endpoints.Http = listen;
                });
            }
        });
        return builder;
    }

    /// <summary>The gRPC services, the exception and API-key interceptors, reflection.</summary>
    public static WebApplicationBuilder AddInferServerApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ExceptionInterceptor>();
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.AddSingleton<ApiKeyInterceptor>();
        builder.Services.AddGrpc(grpc =>
        {
            // Order matters: the exception interceptor is outermost, so it also maps (and counts) auth failures.
            grpc.Interceptors.Add<ExceptionInterceptor>();
            grpc.Interceptors.Add<ApiKeyInterceptor>();
            grpc.EnableDetailedErrors = false;
        });
        builder.Services.AddOptions<Grpc.AspNetCore.Server.GrpcServiceOptions>().Configure<IOptions<ApiOptions>>((grpc, api) =>
            grpc.MaxReceiveMessageSize = api.Value.MaxReceiveMessageBytes);
        builder.Services.AddGrpcReflection();
        builder.Services.AddSingleton<EngineLifetime>();
        builder.Services.AddSingleton<IServingState>(services => services.GetRequiredService<EngineLifetime>());
        builder.Services.AddHostedService(services => services.GetRequiredService<EngineLifetime>());
        return builder;
    }

    /// <summary>Registers the engine runtime built by <paramref name="factory"/>, started with the host.</summary>
    public static WebApplicationBuilder AddInferenceEngine(this WebApplicationBuilder builder, Func<IServiceProvider, IEngineRuntime> factory)
    {
        builder.Services.AddSingleton(factory);
        builder.Services.AddSingleton(services => services.GetRequiredService<IEngineRuntime>().Engine);
        builder.Services.AddSingleton(services => services.GetRequiredService<IEngineRuntime>().Adapters);
        builder.Services.AddSingleton<IAdapterEventSource>(services => services.GetRequiredService<IEngineRuntime>());
        builder.Services.AddHostedService<AdapterEventMetrics>();
        builder.Services.AddSingleton<EngineResourceMetrics>();
        return builder;
    }

    /// <summary>Maps the services, health, reflection and /metrics, and announces the listening addresses once started.</summary>
    public static WebApplication MapInferServer(this WebApplication app)
    {
        app.UsePortRouting();
        app.MapGrpcService<InferenceService>().ServedOn(ServedPort.Grpc);
        app.MapGrpcService<AdminService>().ServedOn(ServedPort.Grpc);
        app.MapGrpcReflectionService().ServedOn(ServedPort.Grpc);
        app.MapHealthAndMetrics();
        app.MapOpenAiApi();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(InferServerApplication).FullName!);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            // Observable instruments exist from construction on: create them once the engine is up.
            app.Services.GetRequiredService<EngineResourceMetrics>();
            var line = app.Services.GetRequiredService<ServerEndpoints>().Describe();
            Console.WriteLine(line);
            Log.Listening(logger, line);
        });
        return app;
    }
}
