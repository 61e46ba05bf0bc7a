namespace InferServer.TestSupport;

/// <summary>A clock that moves only when a test moves it, in UTC unless a test gives it another local zone.</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    /// <summary>The zone <see cref="TimeProvider.GetLocalNow"/> converts to.</summary>
    public TimeZoneInfo Zone { get; init; } = TimeZoneInfo.Utc;

    public override DateTimeOffset GetUtcNow() => Now;

    public override TimeZoneInfo LocalTimeZone => Zone;
}
