using InferServer.AdapterStore.Configuration;
using InferServer.Server.Engine;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Hosting;

/// <summary>Starts the engine named by the Engine and Adapters options (the embedded demo model when Engine:ModelPath is empty).</summary>
public static class EngineRuntimeFactory
{
    /// <summary>Builds the runtime (called once, when the host starts the engine).</summary>
    public static IEngineRuntime Create(IServiceProvider services)
    {
        var engine = InferenceEngine.Start(
            services.GetRequiredService<IOptions<EngineOptions>>().Value,
            services.GetRequiredService<IOptions<AdapterStoreOptions>>().Value,
            services.GetRequiredService<ILoggerFactory>(),
            services.GetRequiredService<TimeProvider>());
        return new InferenceEngineRuntime(engine);
    }
}
