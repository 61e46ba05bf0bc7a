namespace InferServer.LoadGen.Scenarios;

/// <summary>
/// Which adapter each request names. The first four are Punica's popularity mixes (Chen et al., "Punica: Multi-Tenant
/// LoRA Serving", MLSys 2024, §7): Distinct, Uniform, Skewed (Zipf) and Identical; the rest are this project's rows.
/// </summary>
public enum Popularity
{
    /// <summary>No adapter: the base model only.</summary>
    Base,
    /// <summary>Every request a different adapter (wraps around after the adapter count).</summary>
    Distinct,
    /// <summary>Uniform over the adapters.</summary>
    Uniform,
    /// <summary>Zipf over the adapters: rank k drawn with probability proportional to k^-α.</summary>
    Zipf,
    /// <summary>Every request the same adapter.</summary>
    Identical,
    /// <summary>
    /// A Uniform workload grouped by adapter, each group served to completion before the next starts: what a server
    /// that holds one adapter at a time (merge, serve, unmerge) would see at best.
    /// </summary>
    Naive,
    /// <summary>Each adapter twice in a row, one request at a time: the first request pays the hot load, the second does not.</summary>
    ColdWarm,
}
