using System.Diagnostics;

namespace InferServer.LoadGen.Targets;

/// <summary>Seconds since the run started, from the monotonic Stopwatch (wall-clock time can jump).</summary>
public sealed class RunClock
{
    private readonly long origin = Stopwatch.GetTimestamp();

    public double Now => Stopwatch.GetElapsedTime(origin).TotalSeconds;
}
