namespace InferServer.Demo;

/// <summary>Real chat templates the demo models ship, read from the files embedded under src/Demo/ChatTemplates.</summary>
internal static class DemoChatTemplates
{
    /// <summary>
    /// The chat_template of Qwen3's tokenizer_config.json (the dense Qwen3 models share it: thinking blocks, tools,
    /// <c>enable_thinking</c>), byte for byte as tests/InferServer.Jinja.Tests/ChatTemplates/qwen3-0.6b.jinja has it.
    /// </summary>
    public static string Qwen3 => Read("qwen3");

    /// <summary>
    /// The chat_template of Gemma 2's instruction-tuned tokenizer_config.json (user/model turns, no system role), byte for
    /// byte as tests/InferServer.Jinja.Tests/ChatTemplates/gemma-2-2b-it.jinja has it.
    /// </summary>
    public static string Gemma2 => Read("gemma2");

    /// <summary>
    /// The chat_template of Gemma 3's instruction-tuned tokenizer_config.json (a system message folded into the first user
    /// turn, text and image content parts), byte for byte as tests/InferServer.Jinja.Tests/ChatTemplates/gemma-3-4b-it.jinja
    /// has it.
    /// </summary>
    public static string Gemma3 => Read("gemma3");

    private static string Read(string name)
    {
        var resource = $"InferServer.Demo.ChatTemplates.{name}.jinja";
        using var stream = typeof(DemoChatTemplates).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"the demo chat template '{resource}' is not embedded in the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
