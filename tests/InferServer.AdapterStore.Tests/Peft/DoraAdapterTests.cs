using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Merging;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Registry;
using InferServer.AdapterStore.Tiers;
using InferServer.Kernels.Lora;
using TorchSharp;
using static InferServer.AdapterStore.Tests.SyntheticAdapters;
using static TorchSharp.torch;

namespace InferServer.AdapterStore.Tests.Peft;

/// <summary>
/// DoRA adapters as PEFT saves them (<c>use_dora: true</c>, <c>base_model.model.&lt;module&gt;.lora_magnitude_vector</c> [out]):
/// the weight norm computed once at load, the device slot and the merge cache giving
/// <c>m / ‖W0 + s·B·A‖ ⊙ (x·W0ᵀ + s·(x·Aᵀ)·Bᵀ)</c> (PEFT <c>DoraLinearLayer</c>), and every malformed case refused.
/// </summary>
public sealed class DoraAdapterTests : IDisposable
{
    private readonly TemporaryDirectory root = new();
    private readonly Dictionary<string, ILoraTarget> targets = FakeLoraTarget.For(Spec);
    private readonly BaseModelSpec spec;

    public DoraAdapterTests() => spec = Spec with { BaseWeights = module => targets[module].Weight };

    public void Dispose()
    {
        FakeLoraTarget.DisposeAll(targets);
        root.Dispose();
    }

    [Fact]
    public void DoraAdapter_LoadsWithTheNormOfTheAdaptedWeightPerOutputRow()
    {
        using var adapter = LoraAdapterLoader.Load(WriteDora("d", seed: 3), "d", spec, ScalarType.Float32);

        Assert.All(AllModules, module =>
        {
            var weights = adapter.Modules[module];
            Assert.NotNull(weights.Dora);
            using var scope = NewDisposeScope();
            var adapted = targets[module].Weight.to(ScalarType.Float64) + weights.Scale * weights.B.to(ScalarType.Float64).mm(weights.A.to(ScalarType.Float64));
            var expected = adapted.pow(2).sum(1).sqrt();
            TensorAssert.Close(expected, weights.Dora!.WeightNorm, 1e-12, module);
            Assert.Equal(targets[module].OutFeatures, weights.Dora.Magnitude.shape[0]);
        });
    }

    [Fact]
    public void DoraAdapterInADeviceSlotAndMerged_GivesThePeftDoraOutput()
    {
        using var adapter = LoraAdapterLoader.Load(WriteDora("d", seed: 4), "d", spec, ScalarType.Float32);
        using var table = new DeviceSlotTable(targets, 2, 8, ScalarType.Float32, CPU);
        using var merges = new MergeCache(targets, new AdapterStoreOptions());
        Assert.True(table.TryAcquire(adapter, out int slot, out _));
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        var x = randn([3, 16], generator: generator);

        foreach (string module in AllModules)
        {
            var target = (FakeLoraTarget)targets[module];
            var weights = adapter.Modules[module];
            var w = target.Weight.to(ScalarType.Float64);
            var linear = x.to(ScalarType.Float64).matmul(w.t())
                + weights.Scale * x.to(ScalarType.Float64).matmul(weights.A.to(ScalarType.Float64).t()).matmul(weights.B.to(ScalarType.Float64).t());
            var norm = (w + weights.Scale * weights.B.to(ScalarType.Float64).mm(weights.A.to(ScalarType.Float64))).pow(2).sum(1).sqrt();
            var expected = linear * (weights.Dora!.Magnitude / norm);
            using var batch = LoraBatch.Create([slot, slot, slot], CPU);

            Assert.True(target.Pool!.IsDora(slot));
            TensorAssert.Close(expected, target.Forward(x, batch), 1e-5, $"{module}: slot");
            merges.Activate(adapter);
            TensorAssert.Close(expected, target.Forward(x, null), 1e-5, $"{module}: merged");
            merges.Deactivate();
        }

        table.Release(slot);
    }

    [Fact]
    public void MalformedDoraAdapters_AreRefusedNamingTheProblem()
    {
        string missing = WriteDora("missing", seed: 6);
        SyntheticAdapters.Write(missing, rank: 4, seed: 6); // same LoRA weights, magnitudes gone
        SetUseDora(missing, true);
        string notDora = WriteDora("not-dora", seed: 7);
        SetUseDora(notDora, false);
        string wrongShape = WriteDora("wrong-shape", seed: 8);
        SyntheticAdapters.Replace(wrongShape, $"base_model.model.{V0}.lora_magnitude_vector", ones(16));

        Assert.Contains("there is no lora_magnitude_vector", Refusal(missing, spec), StringComparison.Ordinal);
        Assert.Contains("is a DoRA magnitude, but use_dora is false", Refusal(notDora, spec), StringComparison.Ordinal);
        Assert.Contains($"module '{V0}': lora_magnitude_vector [16] should be [8]", Refusal(wrongShape, spec), StringComparison.Ordinal);
        Assert.Contains("DoRA needs the base model's weights", Refusal(WriteDora("no-weights", seed: 9), Spec), StringComparison.Ordinal);
    }

    private static string Refusal(string directory, BaseModelSpec spec) =>
        Assert.Throws<InvalidAdapterException>(() => LoraAdapterLoader.Load(directory, Path.GetFileName(directory), spec, ScalarType.Float32)).Message;

    /// <summary>A rank-4 adapter on all four modules with a trained-looking magnitude per module, as PEFT saves a DoRA adapter.</summary>
    private string WriteDora(string name, int seed)
    {
        string directory = SyntheticAdapters.Write(root.File(name), rank: 4, seed: seed);
        SetUseDora(directory, true);
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed + 1000);
        foreach (string module in AllModules)
        {
            SyntheticAdapters.Replace(directory, $"base_model.model.{module}.lora_magnitude_vector",
                rand([Spec.Modules[module].OutFeatures], generator: generator).add_(3));
        }

        return directory;
    }

    private static void SetUseDora(string directory, bool useDora)
    {
        string path = Path.Combine(directory, LoraAdapterLoader.ConfigFileName);
        string config = File.ReadAllText(path).Replace(", \"use_dora\": true", "", StringComparison.Ordinal);
        File.WriteAllText(path, useDora ? config.Replace("\"bias\": \"none\"", "\"bias\": \"none\", \"use_dora\": true", StringComparison.Ordinal) : config);
    }
}
