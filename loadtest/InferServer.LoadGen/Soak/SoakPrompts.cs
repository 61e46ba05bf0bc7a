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
}
