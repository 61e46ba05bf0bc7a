using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Peft;
using TorchSharp;

namespace InferServer.AdapterStore.Tests.Peft;

/// <summary>Adapters:BaseModelCheck against PEFT's base_model_name_or_path (the fixture adapters name inferserver-fixtures/llama-tiny).</summary>
public sealed class BaseModelIdentityTests
{
    private static readonly string QvR8 = FixtureModels.AdapterDirectory("llama-tiny", "qv-r8");

    [Theory]
    [InlineData("inferserver-fixtures/llama-tiny")]
    [InlineData("/models/llama-tiny/")]          // a local copy of the same hub model
    [InlineData("LLAMA-TINY")]
    public void SameBase_LoadsWithoutWarningEvenWhenRefusing(string served)
    {
        var warnings = new List<string>();

        using var adapter = LoraAdapterLoader.Load(QvR8, "qv", FixtureModels.Llama, torch.ScalarType.Float32,
            identity: new BaseModelIdentity(served, BaseModelCheck.Refuse, warnings.Add));

        Assert.Empty(warnings);
    }

    [Fact]
    public void OtherBase_WithWarn_LoadsAndWarnsNamingBothBases()
    {
        var warnings = new List<string>();

        using var adapter = LoraAdapterLoader.Load(QvR8, "qv", FixtureModels.Llama, torch.ScalarType.Float32,
            identity: new BaseModelIdentity("meta-llama/Llama-3.2-1B", BaseModelCheck.Warn, warnings.Add));

        Assert.Equal(["base_model_name_or_path 'inferserver-fixtures/llama-tiny' is not the served base model 'meta-llama/Llama-3.2-1B'"], warnings);
        Assert.Equal(4, adapter.Modules.Count);
    }

    [Fact]
    public void OtherBase_WithRefuse_IsRefusedNamingBothBases()
    {
        var error = Assert.Throws<InvalidAdapterException>(() => LoraAdapterLoader.Load(QvR8, "qv", FixtureModels.Llama, torch.ScalarType.Float32,
            identity: new BaseModelIdentity("meta-llama/Llama-3.2-1B", BaseModelCheck.Refuse)));

        Assert.Contains("'inferserver-fixtures/llama-tiny' is not the served base model 'meta-llama/Llama-3.2-1B' (Adapters:BaseModelCheck is refuse)",
            error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnnamedServedBase_ChecksNothing() =>
        Assert.Null(new BaseModelIdentity("", BaseModelCheck.Refuse).Mismatch("meta-llama/Llama-3.2-1B"));
}
