using InferServer.AdapterStore.Registry;
using InferServer.Server.Observability;

namespace InferServer.Server.Api.OpenAi;

/// <summary>
/// vLLM's dynamic LoRA endpoints on the OpenAI-compatible port, over the same registry as the gRPC Admin service; they
/// need an admin key (<see cref="ApiKeyScope.Admin"/>).
/// </summary>
public sealed partial class OpenAiAdminApi(
    OpenAiExchange exchange, IAdapterRegistry registry, AdapterHealthPublisher adapterHealth, ILogger<OpenAiAdminApi> logger)
{
    /// <summary>POST /v1/load_lora_adapter {lora_name, lora_path, load_inplace?}.</summary>
    public Task LoadLoraAdapterAsync(HttpContext context) => exchange.HandleAsync(context, "v1/load_lora_adapter", ApiKeyScope.Admin, async call =>
    {
        call.AdapterField = "lora_name";
        var load = OpenAiRequestReader.ReadLoad(await call.ReadBodyAsync());
        var adapter = await registry.LoadAsync(load.Name, load.Path, load.Reload, context.RequestAborted);
        adapterHealth.Synchronize();
        Log.AdapterLoaded(logger, adapter.Name, adapter.Directory);
        await context.Response.WriteAsync($"Success: LoRA adapter '{adapter.Name}' added successfully.", context.RequestAborted);
    });

    /// <summary>POST /v1/unload_lora_adapter {lora_name}.</summary>
    public Task UnloadLoraAdapterAsync(HttpContext context) => exchange.HandleAsync(context, "v1/unload_lora_adapter", ApiKeyScope.Admin, async call =>
    {
        call.AdapterField = "lora_name";
        var name = OpenAiRequestReader.ReadUnload(await call.ReadBodyAsync());
        await registry.UnloadAsync(name, context.RequestAborted);
        adapterHealth.Synchronize();
        Log.AdapterUnloaded(logger, name);
        await context.Response.WriteAsync($"Success: LoRA adapter '{name}' removed successfully.", context.RequestAborted);
    });

    private static partial class Log
    {
        [LoggerMessage(4, LogLevel.Information, "Adapter {Adapter} loaded from {Directory} through the OpenAI-compatible API", EventName = "OpenAiAdapterLoaded")]
        public static partial void AdapterLoaded(ILogger logger, string adapter, string directory);

        [LoggerMessage(5, LogLevel.Information, "Adapter {Adapter} unloaded through the OpenAI-compatible API", EventName = "OpenAiAdapterUnloaded")]
        public static partial void AdapterUnloaded(ILogger logger, string adapter);
    }
}
