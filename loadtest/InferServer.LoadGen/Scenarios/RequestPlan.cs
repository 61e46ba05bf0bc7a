namespace InferServer.LoadGen.Scenarios;

/// <summary>One request of a run: its position and the adapter it names ("" = the base model).</summary>
public sealed record PlannedRequest(int Index, string Adapter);

/// <summary>
/// The requests of a run, in phases: every scenario has one phase except <see cref="Popularity.Naive"/>, which has one
/// phase per adapter group, run one after another.
/// </summary>
public sealed record RequestPlan(IReadOnlyList<IReadOnlyList<PlannedRequest>> Phases)
{
    public int Count => Phases.Sum(phase => phase.Count);
}
