using Microsoft.Extensions.Logging;

namespace InferServer.Engine.Composition;

/// <summary>What the composition root reports once at start.</summary>
internal static partial class EngineCompositionLog
{
    [LoggerMessage(EventId = 1101, EventName = "DeviceSlotsSized", Level = LogLevel.Information,
        Message = "Device slots: {Slots} ({How}; a step names up to {StepAdapters} adapters; at most {BytesPerSlot} bytes per slot and {WorstCaseBytes} bytes in all, if adapters targeted every adaptable module at MaxRank)")]
    public static partial void DeviceSlotsSized(ILogger logger, int slots, string how, int stepAdapters, long bytesPerSlot, long worstCaseBytes);

    [LoggerMessage(EventId = 1102, EventName = "WeightsOnHugePages", Level = LogLevel.Information,
        Message = "Model weights on 2 MiB pages: {HugeMiB} of {CandidateMiB} MiB that could be (transparent huge pages: {Mode}; refusal: {Failure})")]
    public static partial void WeightsOnHugePages(ILogger logger, long hugeMiB, long candidateMiB, string mode, string failure);
}
