namespace InferServer.LoadGen.Soak;

/// <summary>The prompts and request bodies shared by the solo pass and the traffic, so that both ask exactly the same thing.</summary>
public static class SoakPrompts
{
    private static readonly string[] Words =
        ["the", "water", "people", "long", "story", "about", "a", "little", "boy", "who", "came", "back", "home", "after", "every", "day"];

    /// <summary>Prompt <paramref name="index"/>: a different word order per index, all plain words the demo tokenizer knows.</summary>
    public static string Text(int index)
    {
        var random = new Random(index + 1);
        return "soak " + string.Join(' ', Enumerable.Range(0, 10).Select(_ => Words[random.Next(Words.Length)]));
    }

    /// <summary>Token ids of conversation <paramref name="index"/>'s first turn: three KV blocks and a part, so turns share full blocks.</summary>
    public static int[] ConversationStart(int index)
    {
        var random = new Random(1000 + index);
        // Ids 300..999 are ordinary tokens in every model the soak serves (the smallest vocabulary is 1,000).
        return Enumerable.Range(0, 52).Select(_ => random.Next(300, 1000)).ToArray();
    }

    /// <summary>The user's second message in every conversation.</summary>
    public static readonly int[] ConversationFollowUp = [401, 402, 403, 404, 405];
}
