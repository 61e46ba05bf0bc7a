using InferServer.AdapterStore.Configuration;
using InferServer.Demo;
using InferServer.Engine;
using InferServer.Engine.Composition;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Hosting;

/// <summary>
/// The engine the server hosts: <see cref="EngineComposition"/> over the host's options, with the embedded demo model
/// (and its adapters) when Engine:ModelPath is empty, so that a fresh checkout serves something with no configuration.
/// </summary>
public static class ServedEngineComposition
{
    /// <summary>The runtime named by the host's options (resolved once, when the host starts the engine).</summary>
    public static IEngineRuntime FromServices(IServiceProvider services)
    {
        var (options, adapterOptions) = WithDemoFallback(
            services.GetRequiredService<IOptions<EngineOptions>>().Value,
            services.GetRequiredService<IOptions<AdapterStoreOptions>>().Value);
        return EngineComposition.Compose(options, adapterOptions, services.GetRequiredService<ILoggerFactory>(),
            services.GetRequiredService<TimeProvider>());
    }

    /// <summary>
    /// Options as given when they name a model; otherwise the demo model, generated on first use, with its own adapters
    /// unless adapter roots were configured. Invalid options are left for <see cref="EngineComposition.Compose"/> to
    /// report all at once, before anything is generated.
    /// </summary>
    public static (EngineOptions Engine, AdapterStoreOptions Adapters) WithDemoFallback(EngineOptions options,
        AdapterStoreOptions adapterOptions)
    {
        if (options.ModelPath.Length > 0 || options.Validate().Concat(adapterOptions.Validate()).Any())
        {
            return (options, adapterOptions);
        }

        var directory = DemoModelGenerator.EnsureDefault(DemoModelGenerator.DefaultCacheRoot());
        if (adapterOptions.AdapterRoots.Count == 0)
        {
            adapterOptions = adapterOptions with { AdapterRoots = [Path.Combine(directory, "adapters")] };
        }

        return (options with { ModelPath = directory }, adapterOptions);
    }
}
