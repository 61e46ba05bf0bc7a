using InferServer.LoadGen.Scenarios;

namespace InferServer.LoadGen.Scale;

/// <summary>What one cell of the scaling benchmark measures.</summary>
public enum CellKind
{
    /// <summary>Closed loop at the configured concurrency, a fixed number of requests.</summary>
    Closed,
    /// <summary>Poisson arrivals at a rate near saturation (calibrated once before the rounds).</summary>
    Open,
    /// <summary>Closed-loop traffic over a few warm adapters while a side stream names adapters never loaded before.</summary>
    ColdStream,
    /// <summary>The same, with the side stream naming warm adapters: the control for <see cref="ColdStream"/>.</summary>
    WarmStream,
}

/// <summary>One cell: kind, popularity mix and the number of adapters in play.</summary>
public sealed record ScaleCell(CellKind Kind, Popularity Popularity, int Adapters)
{
    public string Key => $"{Kind.ToString().ToLowerInvariant()}/{Popularity.ToString().ToLowerInvariant()}/{Adapters}";
}
