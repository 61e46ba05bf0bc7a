using InferServer.AdapterStore.Configuration;
using InferServer.Kernels.Lora;
using static TorchSharp.torch;

namespace InferServer.AdapterStore.Tiers;

/// <summary>
/// How many device slots the pools get. A step can only run rows whose adapters sit in slots at the same time, so with
/// fewer slots than the distinct adapters one step can name, admissions wait for a slot and steps run short (the scaling
/// run's 64-row steps over 1,000 adapters with 32 slots). Automatic (Adapters:DeviceSlots 0): one slot per adapter a step
/// can name, bounded so that the pools can never exceed Adapters:DeviceSlotBytes, counted as if every adapter targeted
/// every adaptable module at MaxRank (pools are created only for targeted modules, so real use is at most that). An
/// explicit count wins; the scheduler then bounds each step's distinct adapters to it (every running request pins its
/// slot, so a slot is never rewritten while a step uses it).
/// </summary>
/// <param name="Slots">Usable slots, slot 0 ("no adapter") not counted.</param>
/// <param name="BytesPerSlot">Worst-case bytes of one slot: every adaptable module at MaxRank.</param>
/// <param name="StepAdapters">The most distinct adapters one step can name (Engine:MaxBatchRows: fan-out's adapters are rows too).</param>
/// <param name="Automatic">True when <paramref name="Slots"/> was derived rather than configured.</param>
public sealed record DeviceSlotSizing(int Slots, long BytesPerSlot, int StepAdapters, bool Automatic)
{
    /// <summary>The most the pools can occupy: every slot and slot 0, every adaptable module at MaxRank.</summary>
    public long WorstCaseBytes => (Slots + 1L) * BytesPerSlot;

    /// <summary>Whether any step's adapters fit at once.</summary>
    public bool FitsEveryStep => Slots >= StepAdapters;

    /// <summary>
    /// The slot count for a model whose adaptable modules are <paramref name="targets"/>, served at <paramref name="dtype"/>,
    /// whose steps hold at most <paramref name="stepAdapters"/> rows. At least one slot, whatever the budget.
    /// </summary>
    public static DeviceSlotSizing Resolve(AdapterStoreOptions options, int stepAdapters, IEnumerable<ILoraTarget> targets, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepAdapters, 1);
        var bytesPerSlot = targets.Sum(target => LoraSlotPool.SlotBytes(options.MaxRank, target.InFeatures, target.OutFeatures, dtype));
        if (options.DeviceSlots > 0)
        {
            return new DeviceSlotSizing(options.DeviceSlots, bytesPerSlot, stepAdapters, Automatic: false);
        }

        // Slot 0 is a row of every pool too, hence the - 1.
        var affordable = bytesPerSlot == 0 ? long.MaxValue : options.DeviceSlotBytes / bytesPerSlot - 1;
        return new DeviceSlotSizing((int)Math.Clamp(affordable, 1, stepAdapters), bytesPerSlot, stepAdapters, Automatic: true);
    }
}
