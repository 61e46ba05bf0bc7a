using InferServer.Demo;

namespace InferServer.LoadGen.Soak;

/// <summary>
/// What the soak serves: the demo Llama (hidden 64, GPT-2 tokenizer, so text, chat and OpenAI prompts all work) with its
/// own adapters and <c>tenants</c> rank-16 q/v tenant adapters under DIR/base/adapters, and adapters that cannot be
/// served under DIR/broken: each asked for by name must end FAILED_PRECONDITION, never INTERNAL, and never harm the rest.
/// </summary>
public static class SoakModel
{
    /// <summary>adapter_config.json is not JSON.</summary>
    public const string CorruptConfig = "broken-corrupt-config";

    /// <summary>adapter_model.safetensors cut off in the middle.</summary>
    public const string TruncatedWeights = "broken-truncated-weights";

    /// <summary>Valid PEFT files for a model with another hidden size (128 instead of the demo's 64).</summary>
    public const string WrongBase = "broken-wrong-base";

    public static IReadOnlyList<string> Broken => [CorruptConfig, TruncatedWeights, WrongBase];

    /// <summary>The model directory (served with --model) under <paramref name="root"/>.</summary>
    public static string ModelDirectory(string root) => Path.Combine(root, "base");

    /// <summary>The adapter roots the server is given: the model's own adapters and the broken ones.</summary>
    public static IReadOnlyList<string> AdapterRoots(string root) => [Path.Combine(ModelDirectory(root), "adapters"), Path.Combine(root, "broken")];

    /// <summary>Writes the model, <paramref name="tenants"/> tenant adapters and the broken adapters under <paramref name="root"/>.</summary>
    public static void Write(string root, int tenants, int seed)
    {
        var model = ModelDirectory(root);
        DemoModelGenerator.Write(model, DemoModelKind.Llama, seed);
        DemoModelGenerator.WriteTenantAdapters(Path.Combine(model, "adapters"), DemoModelKind.Llama, tenants, 16, ["q_proj", "v_proj"], seed);
        WriteBroken(Path.Combine(root, "broken"));
    }

    private static void WriteBroken(string directory)
    {
        BrokenAdapterFiles.WriteCorruptConfig(Path.Combine(directory, CorruptConfig));
        BrokenAdapterFiles.WriteTruncatedWeights(Path.Combine(directory, TruncatedWeights));
        BrokenAdapterFiles.WriteWrongBase(Path.Combine(directory, WrongBase));
    }
}
