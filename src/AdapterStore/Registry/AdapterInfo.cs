namespace InferServer.AdapterStore.Registry;

/// <summary>What the admin API and metrics report about one registered adapter.</summary>
/// <param name="Name">Registered name (what requests put in their adapter field).</param>
/// <param name="Directory">Absolute directory it is read from.</param>
/// <param name="Tier">Hottest tier it is in now.</param>
/// <param name="Rank">Largest rank over its modules; 0 while only on disk.</param>
/// <param name="TargetModules">Module paths it adapts; empty while only on disk.</param>
/// <param name="Bytes">Host bytes held (0 while only on disk).</param>
/// <param name="RequestsServed">Requests that used it since it was registered.</param>
/// <param name="LastUsed">When a request last used it.</param>
/// <param name="TaskType">PEFT task_type (CAUSAL_LM, SEQ_CLS) once read.</param>
/// <param name="Labels">Label names of its own classifier head, if it has one.</param>
public sealed record AdapterInfo(
    string Name,
    string Directory,
    AdapterTier Tier,
    int Rank,
    IReadOnlyList<string> TargetModules,
    long Bytes,
    long RequestsServed,
    DateTimeOffset? LastUsed,
    string? TaskType,
    IReadOnlyList<string>? Labels);
