namespace InferServer.AdapterStore;

/// <summary>
/// One adapter lifecycle event. The store, the device slot table and the merge cache raise these (their
/// <c>Changed</c> events) after releasing their locks, so a handler may call back into them; handlers that throw are
/// logged and ignored, because metrics must never break serving.
/// </summary>
/// <param name="Kind">What happened.</param>
/// <param name="Name">The adapter.</param>
/// <param name="Tier">The tier it happened in (Host, Device or Merged).</param>
/// <param name="Bytes">Bytes that tier gained or gave back, where known.</param>
/// <param name="Error">Why a load failed.</param>
public sealed record AdapterEvent(AdapterEventKind Kind, string Name, AdapterTier Tier, long Bytes = 0, Exception? Error = null);
