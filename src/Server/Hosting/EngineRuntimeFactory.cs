namespace InferServer.Server.Hosting;

/// <summary>Builds the engine runtime from the bound options.</summary>
public static class EngineRuntimeFactory
{
    /// <summary>The concrete engine (Engine/InferenceEngine) is not merged into this branch yet.</summary>
    public static IEngineRuntime Create(IServiceProvider services) =>
        throw new InvalidOperationException("this build has no inference engine yet (src/Server/Engine/InferenceEngine.cs)");
}
