using InferServer.Kernels.Sampling;
using InferServer.Kernels.Structured;

namespace InferServer.Engine;

/// <summary>One generation as the engine receives it, already checked for form by the front door.</summary>
/// <param name="Adapter">Adapter name; null or empty = the base model.</param>
/// <param name="PromptText">Prompt text (tokenized by the engine), or null when <paramref name="PromptTokenIds"/> are given.</param>
/// <param name="PromptTokenIds">Prompt as token ids; exactly one of text and ids is set.</param>
/// <param name="MaxNewTokens">Upper bound on generated tokens.</param>
/// <param name="Sampling">Sampling parameters (greedy when temperature is 0).</param>
/// <param name="StopStrings">Generation ends before any of these strings; they are not emitted.</param>
/// <param name="StopTokenIds">Generation ends at any of these tokens; they are not emitted.</param>
/// <param name="IgnoreEos">Keep generating past the end-of-sequence token.</param>
/// <param name="Deadline">Absolute deadline; past it the request ends with DeadlineExceededException.</param>
/// <param name="AddSpecialTokens">Add the tokenizer's BOS etc. when tokenizing <paramref name="PromptText"/>.</param>
/// <param name="Grammar">Structured output: the JSON value the output must be (constrained decoding); null = free text.
/// The output ends (Stop) when the value is complete; end-of-sequence is allowed only then.</param>
public sealed record GenerationRequest(
    string? Adapter,
    string? PromptText,
    IReadOnlyList<int>? PromptTokenIds,
    int MaxNewTokens,
    SamplingParameters Sampling,
    IReadOnlyList<string> StopStrings,
    IReadOnlyList<int> StopTokenIds,
    bool IgnoreEos = false,
    DateTimeOffset? Deadline = null,
    bool AddSpecialTokens = true,
    JsonGrammar? Grammar = null);
