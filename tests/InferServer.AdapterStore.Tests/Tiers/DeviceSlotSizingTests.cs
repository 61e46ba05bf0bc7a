using InferServer.AdapterStore.Configuration;
using InferServer.AdapterStore.Peft;
using InferServer.AdapterStore.Tiers;
using TorchSharp;
using static InferServer.AdapterStore.Tests.SyntheticAdapters;

namespace InferServer.AdapterStore.Tests.Tiers;

public sealed class DeviceSlotSizingTests : IDisposable
{
    // SyntheticAdapters.Spec at MaxRank 8 in float32: per layer q (8·16 + 16·8 + 16) and v (8·16 + 8·8 + 8) elements, two layers.
    private const long SlotBytesAtRank8 = ((8 * 16 + 16 * 8 + 16) + (8 * 16 + 8 * 8 + 8)) * 2 * 4;

    private readonly TemporaryDirectory root = new();
    private readonly Dictionary<string, ILoraTarget> targets = FakeLoraTarget.For(Spec);

    public void Dispose()
    {
        FakeLoraTarget.DisposeAll(targets);
        root.Dispose();
    }

    [Fact]
    public void Automatic_GivesOneSlotPerAdapterAStepCanName_WhenTheBudgetAllows()
    {
        var sizing = Resolve(new AdapterStoreOptions { MaxRank = 8 }, stepAdapters: 64);

        Assert.Equal((64, true, true), (sizing.Slots, sizing.Automatic, sizing.FitsEveryStep));
        Assert.Equal(SlotBytesAtRank8, sizing.BytesPerSlot);
        Assert.Equal(65 * SlotBytesAtRank8, sizing.WorstCaseBytes);
    }

    [Theory]
    [InlineData(10, 9)] // ten slot rows, one of them slot 0
    [InlineData(2, 1)]
    [InlineData(1, 1)] // below one usable slot: still one, or no adapter could ever be served
    public void Automatic_IsBoundedByTheByteBudget_SlotZeroIncluded(int budgetSlotRows, int expectedSlots)
    {
        var sizing = Resolve(new AdapterStoreOptions { MaxRank = 8, DeviceSlotBytes = budgetSlotRows * SlotBytesAtRank8 + SlotBytesAtRank8 / 2 },
            stepAdapters: 64);

        Assert.Equal((expectedSlots, false), (sizing.Slots, sizing.FitsEveryStep));
    }

    [Fact]
    public void ExplicitSlots_WinOverTheStepAndTheBudget()
    {
        var sizing = Resolve(new AdapterStoreOptions { MaxRank = 8, DeviceSlots = 3, DeviceSlotBytes = 1 }, stepAdapters: 64);

        Assert.Equal((3, false, false), (sizing.Slots, sizing.Automatic, sizing.FitsEveryStep));
    }

    [Fact]
    public void WorstCaseBytes_IsWhatThePoolsHold_WhenAnAdapterTargetsEveryModuleAtMaxRank()
    {
        var sizing = Resolve(new AdapterStoreOptions { MaxRank = 8 }, stepAdapters: 4);
        using var table = new DeviceSlotTable(targets, sizing.Slots, 8, torch.ScalarType.Float32, torch.CPU);
        using LoraAdapter adapter = SyntheticAdapters.Load(root, "full", rank: 8, seed: 1);

        Assert.True(table.TryAcquire(adapter, out int slot, out _));
        table.Release(slot);

        Assert.Equal(sizing.WorstCaseBytes, table.DeviceBytes);
    }

    [Fact]
    public void BytesPerSlot_FollowsTheServingDtype()
    {
        var sizing = DeviceSlotSizing.Resolve(new AdapterStoreOptions { MaxRank = 8 }, 4, targets.Values, torch.ScalarType.BFloat16);

        Assert.Equal(SlotBytesAtRank8 / 2, sizing.BytesPerSlot);
    }

    private DeviceSlotSizing Resolve(AdapterStoreOptions options, int stepAdapters) =>
        DeviceSlotSizing.Resolve(options, stepAdapters, targets.Values, torch.ScalarType.Float32);
}
