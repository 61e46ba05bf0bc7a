using InferServer.AdapterStore.Peft;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models;

namespace InferServer.Engine.Tests.Reference;

/// <summary>
/// Puts adapters into slot pools of a loaded model the way the device tier does: one pool per targeted module, adapter
/// i in slot i + 1 (slot 0 is the base), pools attached to the modules' <c>Pool</c>. Detaches and frees them on dispose.
/// </summary>
public sealed class PooledAdapters : IDisposable
{
    private readonly IBaseModel model;
    private readonly List<LoraAdapter> adapters = [];
    private readonly List<LoraSlotPool> pools = [];

    /// <summary>Loads each adapter directory in the model's dtype and writes it into its slot.</summary>
    public PooledAdapters(IBaseModel model, params string[] adapterDirectories)
    {
        this.model = model;
        var spec = BaseModelSpecs.From(model);
        foreach (var directory in adapterDirectories)
            adapters.Add(LoraAdapterLoader.Load(directory, Path.GetFileName(directory), spec, model.DType));
        var maxRank = adapters.Max(a => a.MaxRank);
        foreach (var (path, module) in model.AdaptableModules)
        {
            var users = adapters.Select((adapter, i) => (Slot: i + 1, Weights: adapter.Modules.GetValueOrDefault(path)))
                .Where(u => u.Weights is not null).ToList();
            if (users.Count == 0)
                continue;
            var pool = new LoraSlotPool(adapters.Count + 1, maxRank, module.InFeatures, module.OutFeatures, model.DType, model.Device);
            foreach (var (slot, weights) in users)
            {
                using var doraScale = weights!.Dora?.RowScale();
                pool.Write(slot, weights.A, weights.B, weights.Scale, doraScale);
            }
            module.Pool = pool;
            pools.Add(pool);
        }
    }

    /// <summary>The loaded adapters, adapter i in slot i + 1.</summary>
    public IReadOnlyList<LoraAdapter> Adapters => adapters;

    public void Dispose()
    {
        foreach (var module in model.AdaptableModules.Values)
            module.Pool = null;
        pools.ForEach(p => p.Dispose());
        adapters.ForEach(a => a.Dispose());
    }
}
