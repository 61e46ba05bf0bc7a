using InferServer.LoadGen.Scenarios;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// Draws the soak's calls from one seeded generator, in order: the n-th call is the same in every run with the same
/// seed and adapter list, whichever worker happens to send it. Popularity is Zipf over the ranks base, adapter 0,
/// adapter 1, …; fates follow the mix below, chosen so that about a third of streams are cancelled by the client.
/// </summary>
public sealed class SoakPlanner
{
    /// <summary>The mix, as shares of all steady calls (bursts are always complete unary Generate calls).</summary>
    public const double InvalidShare = 0.05, BrokenShare = 0.05;

    /// <summary>Shares of stream calls: cancelled, then disconnected, then cut by a deadline (gRPC streams only).</summary>
    public const double StreamCancelShare = 1.0 / 3, StreamDisconnectShare = 0.10, StreamDeadlineShare = 0.08;

    /// <summary>Share of unary gRPC calls cut by a deadline.</summary>
    public const double UnaryDeadlineShare = 0.10;

    /// <summary>Share of calls to a churned adapter that name its copy (loaded and unloaded under another name) instead.</summary>
    public const double CopyShare = 0.25;

    private readonly object gate = new();
    private readonly Random random;
    private readonly SoakOptions options;
    private readonly IReadOnlyList<string> adapters;
    private readonly HashSet<string> churned;
    private readonly ZipfSampler popularity;
    private readonly TimeSpan longCall;
    private long next;

    /// <param name="adapters">Valid adapters, most popular first.</param>
    /// <param name="churned">Those of them the churn unloads and loads while in use.</param>
    /// <param name="longCall">How long one <see cref="SoakOptions.LongTokens"/> generation takes alone: deadlines are drawn as fractions of it.</param>
    public SoakPlanner(SoakOptions options, IReadOnlyList<string> adapters, IReadOnlyCollection<string> churned, TimeSpan longCall)
    {
        this.options = options;
        this.adapters = adapters;
        this.churned = [.. churned];
        this.longCall = longCall;
        random = new Random(options.Seed);
        popularity = new ZipfSampler(adapters.Count + 1, options.ZipfAlpha);
    }

    /// <summary>The name a churned adapter's copy is loaded under.</summary>
    public static string CopyName(string adapter) => "soak-copy-" + adapter;

    /// <summary>The adapters the churn works on: spread over the popularity ranks, so the hottest adapter is among them.</summary>
    public static IReadOnlyList<string> ChooseChurned(IReadOnlyList<string> adapters, int count)
    {
        count = Math.Min(count, adapters.Count);
        return count == 0 ? [] : Enumerable.Range(0, count).Select(i => adapters[i * adapters.Count / count]).Distinct().ToArray();
    }

    /// <summary>The next call of the plan.</summary>
    public SoakCall Next(bool burst)
    {
        lock (gate)
        {
            // Every draw is made whatever the branch, so a change of one share does not shift the rest of the plan.
            var id = next++;
            var kind = burst ? SoakCallKind.Generate : (SoakCallKind)random.Next(Enum.GetValues<SoakCallKind>().Length);
            var fateDraw = random.NextDouble();
            var streamDraw = random.NextDouble();
            var rank = popularity.Sample(random);
            var copyDraw = random.NextDouble();
            var broken = options.BrokenAdapters.Count > 0 ? options.BrokenAdapters[random.Next(options.BrokenAdapters.Count)] : "";
            var prompt = random.Next(options.Prompts);
            var cut = random.Next(1, Math.Max(2, options.MaxNewTokens));
            var deadline = longCall * (0.2 + 0.6 * random.NextDouble());
            var invalidForm = random.Next(3);

            var fate = burst ? SoakFate.Complete : Fate(kind, fateDraw, streamDraw);
            if (fate == SoakFate.BrokenAdapter && options.BrokenAdapters.Count == 0) fate = SoakFate.Complete;
            var source = rank == 0 ? "" : adapters[rank - 1];
            var isChurned = churned.Contains(source);
            var adapter = fate == SoakFate.BrokenAdapter ? broken : isChurned && copyDraw < CopyShare ? CopyName(source) : source;
            var answerOf = (fate is SoakFate.Complete or SoakFate.Cancel or SoakFate.Disconnect) && !kind.IsStructured() ? source : null;
            var tokens = fate == SoakFate.Deadline ? options.LongTokens : kind.IsStructured() ? SoakStructured.TokensFor(kind) : options.MaxNewTokens;
            return new SoakCall(id, kind, fate, adapter, answerOf, isChurned && fate != SoakFate.BrokenAdapter, prompt, tokens, cut,
                deadline, invalidForm, burst);
        }
    }

    private static SoakFate Fate(SoakCallKind kind, double fateDraw, double streamDraw)
    {
        if (fateDraw < InvalidShare) return SoakFate.InvalidParameters;
        if (fateDraw < InvalidShare + BrokenShare) return SoakFate.BrokenAdapter;
        if (kind.IsStream())
        {
            if (streamDraw < StreamCancelShare) return SoakFate.Cancel;
            if (streamDraw < StreamCancelShare + StreamDisconnectShare) return SoakFate.Disconnect;
            if (!kind.IsOpenAi() && streamDraw < StreamCancelShare + StreamDisconnectShare + StreamDeadlineShare) return SoakFate.Deadline;
            return SoakFate.Complete;
        }
        return !kind.IsOpenAi() && streamDraw < UnaryDeadlineShare ? SoakFate.Deadline : SoakFate.Complete;
    }
}
