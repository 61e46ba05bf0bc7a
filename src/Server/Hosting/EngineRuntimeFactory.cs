using InferServer.Server.Engine;
using InferServer.Server.Models;
using InferServer.Server.Models.Common;
using InferServer.Server.Tokenization;
using Microsoft.Extensions.Options;
using TorchSharp;

namespace InferServer.Server.Hosting;

/// <summary>Loads the model named by the Engine options and starts the engine over it.</summary>
public static class EngineRuntimeFactory
{
    /// <summary>Builds the runtime (called once, when the host starts the engine).</summary>
    public static IEngineRuntime Create(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<EngineOptions>>().Value;
        if (options.ModelPath.Length == 0)
            throw new InvalidOperationException("Engine:ModelPath is required (--model <Hugging Face model directory>)");
        var directory = Path.GetFullPath(options.ModelPath);
        var model = ModelLoader.Load(directory, new ModelLoadOptions(torch.device(options.Device), ModelLoadOptions.ParseDType(options.DType)));
        var tokenizer = TokenizerLoader.Load(directory);
        var servedName = options.ServedModelName.Length > 0 ? options.ServedModelName : Path.GetFileName(directory.TrimEnd(Path.DirectorySeparatorChar));
        var adapters = new BaseModelOnlyAdapters();
        var engine = new InferenceEngine(options, model, tokenizer, adapters, servedName,
            services.GetRequiredService<ILoggerFactory>().CreateLogger<InferenceEngine>(), services.GetRequiredService<TimeProvider>());
        return new InferenceEngineRuntime(engine, adapters);
    }
}
