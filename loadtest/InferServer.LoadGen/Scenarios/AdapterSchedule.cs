namespace InferServer.LoadGen.Scenarios;

/// <summary>
/// Builds a run's request plan from a popularity mix. Plans are fixed before the run from a seed, so two runs (merge
/// cache on and off, gRPC and in-process) send the same adapters in the same order.
/// </summary>
public static class AdapterSchedule
{
    /// <summary>The adapter name for index <paramref name="index"/>: prefix + three digits, as the model writer names them.</summary>
    public static string AdapterName(string prefix, int index) => $"{prefix}{index:D3}";

    /// <summary>The plan for <paramref name="requests"/> requests over adapters offset..offset+adapterCount-1.</summary>
    public static RequestPlan Build(Popularity popularity, int requests, int adapterCount, string prefix, int seed,
        double zipfExponent = 1.2, int offset = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(requests, 0);
        if (popularity != Popularity.Base)
            ArgumentOutOfRangeException.ThrowIfLessThan(adapterCount, 1);
        var random = new Random(seed);
        var zipf = popularity == Popularity.Zipf ? new ZipfSampler(adapterCount, zipfExponent) : null;
        string Name(int index) => AdapterName(prefix, offset + index);

        var adapters = new string[requests];
        for (var i = 0; i < requests; i++)
        {
            adapters[i] = popularity switch
            {
                Popularity.Base => "",
                Popularity.Identical => Name(0),
                Popularity.Distinct => Name(i % adapterCount),
                Popularity.Uniform or Popularity.Naive => Name(random.Next(adapterCount)),
                Popularity.Zipf => Name(zipf!.Sample(random)),
                Popularity.ColdWarm => Name(i / 2 % adapterCount),
                _ => throw new ArgumentOutOfRangeException(nameof(popularity), popularity, null),
            };
        }

        if (popularity != Popularity.Naive)
            return new RequestPlan([adapters.Select((adapter, i) => new PlannedRequest(i, adapter)).ToArray()]);

        // Same multiset of adapters as Uniform, grouped in order of first appearance so the group order is seeded too.
        var phases = adapters
            .Select((adapter, i) => new PlannedRequest(i, adapter))
            .GroupBy(request => request.Adapter)
            .Select(group => (IReadOnlyList<PlannedRequest>)group.ToArray())
            .ToArray();
        return new RequestPlan(phases);
    }
}
