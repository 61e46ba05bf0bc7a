using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.Kernels.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.AdapterStore.Tests;

/// <summary>A projection holding a real random W0 and forwarding like the server's AdaptedLinear.</summary>
internal sealed class FakeLoraTarget : ILoraTarget, IDisposable
{
    public FakeLoraTarget(long inFeatures, long outFeatures, int seed)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        using var generator = new Generator((ulong)seed);
        Weight = torch.randn([outFeatures, inFeatures], generator: generator).DetachFromDisposeScope();
    }

    public long InFeatures { get; }

    public long OutFeatures { get; }

    public Tensor Weight { get; }

    public LoraSlotPool? Pool { get; set; }

    public Tensor? Merged { get; private set; }

    public void SetMergedWeight(Tensor? merged) => Merged = merged;

    public Tensor Forward(Tensor x, LoraBatch? batch) =>
        Merged is { } merged ? nn.functional.linear(x, merged) : LoraOps.Linear(x, Weight, null, batch is null ? null : Pool, batch);

    /// <summary>One target per module of <paramref name="spec"/>.</summary>
    public static Dictionary<string, ILoraTarget> For(BaseModelSpec spec) =>
        spec.Modules.Select((pair, index) => (pair.Key, Target: (ILoraTarget)new FakeLoraTarget(pair.Value.InFeatures, pair.Value.OutFeatures, 100 + index)))
            .ToDictionary(pair => pair.Key, pair => pair.Target, StringComparer.Ordinal);

    public static void DisposeAll(Dictionary<string, ILoraTarget> targets)
    {
        foreach (var target in targets.Values)
        {
            ((FakeLoraTarget)target).Dispose();
        }
    }

    public void Dispose() => Weight.Dispose();
}
