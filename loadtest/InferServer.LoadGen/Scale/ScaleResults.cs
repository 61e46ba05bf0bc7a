namespace InferServer.LoadGen.Scale;

/// <summary>Everything one scaling run measured, as written to JSON and read back by scale-report.</summary>
/// <param name="Settings">The command line's settings, for the report.</param>
/// <param name="OpenRatePerSecond">The open-loop arrival rate (0.85 of the calibrated closed-loop request rate), or 0.</param>
/// <param name="LoadAverageStart">/proc/loadavg at the start.</param>
/// <param name="LoadAverageEnd">/proc/loadavg at the end.</param>
/// <param name="Measurements">Every cell of every round, in the order measured.</param>
public sealed record ScaleResults(
    IReadOnlyDictionary<string, string> Settings,
    double OpenRatePerSecond,
    string LoadAverageStart,
    string LoadAverageEnd,
    IReadOnlyList<CellMeasurement> Measurements);
