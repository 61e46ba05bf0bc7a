using InferServer.LoadGen.Results;

namespace InferServer.LoadGen.Scale;

/// <summary>One cell measured in one round: the main traffic's summary, the side stream's (stream cells), and the server's counters.</summary>
/// <param name="Round">The round (0-based).</param>
/// <param name="Cell">The cell's key.</param>
/// <param name="Main">The measured traffic.</param>
/// <param name="Side">The side stream of a cold/warm cell, else null.</param>
/// <param name="AdapterLoadsPerSecond">inferserver_adapter_loads_total's increase over the cell's wall time.</param>
/// <param name="SlotEvictionsPerSecond">Device-slot evictions per second (slots rewritten for another adapter).</param>
/// <param name="HostBytes">Adapter bytes in host memory at the cell's end.</param>
/// <param name="DeviceBytes">Adapter slot-pool and merged bytes on the device at the cell's end.</param>
/// <param name="LoadAverage">/proc/loadavg's 1-minute value at the cell's end (the machine is shared).</param>
/// <param name="ServerCpuSeconds">The server process's CPU seconds during the cell (process_cpu_seconds_total's increase).</param>
public sealed record CellMeasurement(
    int Round,
    string Cell,
    RunSummary Main,
    RunSummary? Side,
    double AdapterLoadsPerSecond,
    double SlotEvictionsPerSecond,
    double HostBytes,
    double DeviceBytes,
    double LoadAverage,
    double ServerCpuSeconds = double.NaN)
{
    /// <summary>The main traffic's output tokens per server CPU-second.</summary>
    public double TokensPerCpuSecond => Main.OutputTokens / ServerCpuSeconds;
}
