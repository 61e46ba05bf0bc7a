namespace InferServer.Jinja;

/// <summary>Limits and environment of one render.</summary>
public sealed record JinjaRenderOptions
{
    public static readonly JinjaRenderOptions Default = new();

    /// <summary>Most characters the output, and any one string or list built while rendering, may have.</summary>
    public int MaxOutputChars { get; init; } = 4 * 1024 * 1024;

    /// <summary>Most loop iterations in one render, all loops together.</summary>
    public long MaxLoopIterations { get; init; } = 1_000_000;

    /// <summary>Longest a render may run. Real chat templates render in well under a millisecond per message.</summary>
    public TimeSpan MaxRenderTime { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Most nested macro calls.</summary>
    public int MaxCallDepth { get; init; } = 64;

    /// <summary>The clock strftime_now reads (local time, as transformers' datetime.now()).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
