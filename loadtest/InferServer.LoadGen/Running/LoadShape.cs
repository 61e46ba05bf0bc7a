namespace InferServer.LoadGen.Running;

/// <summary>
/// How requests are offered. Closed loop: a fixed number of workers, each sending its next request when the last one
/// ends (throughput at a concurrency). Open loop: Poisson arrivals at a fixed rate whatever the server does (latency at
/// an offered load; what users see when they outnumber the server).
/// </summary>
/// <param name="Open">Open loop when true.</param>
/// <param name="Concurrency">Closed loop: workers.</param>
/// <param name="RatePerSecond">Open loop: mean arrivals per second.</param>
/// <param name="MaxInFlight">Open loop: arrivals beyond this many outstanding requests are shed and counted, keeping the generator bounded.</param>
/// <param name="Duration">No request starts after this; outstanding ones get <paramref name="Grace"/> to finish, then are cancelled.</param>
/// <param name="Grace">How long outstanding requests may run past <paramref name="Duration"/>.</param>
/// <param name="Seed">Seeds the arrival process.</param>
public sealed record LoadShape(bool Open, int Concurrency, double RatePerSecond, int MaxInFlight, TimeSpan Duration, TimeSpan Grace, int Seed)
{
    public string Describe() => Open ? $"open {RatePerSecond:0.###}/s" : $"closed c={Concurrency}";
}
