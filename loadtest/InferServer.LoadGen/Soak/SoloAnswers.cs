using System.Diagnostics;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// The reference: each (front door, adapter, prompt) asked alone, one request at a time, before any traffic. The server
/// promises that batching never changes a greedy answer, so every answer under load must equal these.
/// </summary>
public sealed class SoloAnswers
{
    private static readonly SoakCallKind[] Families = [SoakCallKind.Generate, SoakCallKind.Chat, SoakCallKind.Completion, SoakCallKind.Conversation];

    private readonly Dictionary<(SoakCallKind, string, int), string?> answers = new();

    private SoloAnswers() { }

    public int Count => answers.Count;

    /// <summary>The solo answer a call of <paramref name="kind"/> on <paramref name="adapter"/> with prompt <paramref name="prompt"/> must give.</summary>
    public string? Answer(SoakCallKind kind, string adapter, int prompt) => answers[(kind.Family(), adapter, prompt)];

    /// <param name="adapters">The base model ("") and every valid adapter.</param>
    public static async Task<SoloAnswers> ComputeAsync(SoakClient client, IReadOnlyList<string> adapters, SoakOptions options)
    {
        var solo = new SoloAnswers();
        foreach (var family in Families)
            foreach (var adapter in adapters)
                for (var prompt = 0; prompt < options.Prompts; prompt++)
                {
                    var outcome = await client.SendAsync(Alone(family, adapter, prompt, options.MaxNewTokens));
                    if (outcome.Status != SoakOutcome.Ok)
                        throw new InvalidOperationException($"the solo {family} call on '{adapter}' ended {outcome.Status}: the soak needs a server that answers");
                    solo.answers[(family, adapter, prompt)] = outcome.Answer;
                }
        return solo;
    }

    /// <summary>The median time of three <see cref="SoakOptions.LongTokens"/> generations alone: deadline calls are cut at fractions of it.</summary>
    public static async Task<TimeSpan> TimeLongCallAsync(SoakClient client, SoakOptions options)
    {
        var times = new List<TimeSpan>();
        for (var i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            var outcome = await client.SendAsync(Alone(SoakCallKind.Generate, "", 0, options.LongTokens));
            if (outcome.Status != SoakOutcome.Ok) throw new InvalidOperationException($"the long solo call ended {outcome.Status}");
            times.Add(clock.Elapsed);
        }
        return times.Order().ElementAt(1);
    }

    private static SoakCall Alone(SoakCallKind kind, string adapter, int prompt, int tokens) =>
        new(-1, kind, SoakFate.Complete, adapter, adapter, false, prompt, tokens, 0, TimeSpan.Zero, 0, false);
}
