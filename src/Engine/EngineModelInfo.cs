namespace InferServer.Engine;

/// <summary>The served base model as clients see it.</summary>
/// <param name="ServedName">Name clients use for "no adapter" (OpenAI's model field); the model directory's name by default.</param>
/// <param name="ModelType">config.json model_type.</param>
/// <param name="Kind">Generation or classification.</param>
/// <param name="MaxContextTokens">Prompt plus generated tokens allowed per sequence.</param>
/// <param name="ChatTemplate">The tokenizer's chat template (Jinja source) when it has one.</param>
/// <param name="Labels">The base classifier's labels (classification models only).</param>
/// <param name="BosToken">The tokenizer's BOS token as text, passed to the chat template as bos_token.</param>
/// <param name="EosToken">The tokenizer's EOS token as text, passed to the chat template as eos_token.</param>
/// <param name="EosTokenEndsGeneration">Generation already stops on <paramref name="EosToken"/>'s id, so a chat
/// template's reply needs no stop string for it.</param>
public sealed record EngineModelInfo(
    string ServedName,
    string ModelType,
    ModelKind Kind,
    int MaxContextTokens,
    string? ChatTemplate,
    IReadOnlyList<string> Labels,
    string? BosToken = null,
    string? EosToken = null,
    bool EosTokenEndsGeneration = false);

/// <summary>What a base model can do.</summary>
public enum ModelKind
{
    /// <summary>Causal language model: generate, stream, chat.</summary>
    TextGeneration,
    /// <summary>Encoder with a classification head: classify.</summary>
    Classification,
}
