namespace InferServer.Engine;

/// <summary>
/// One sequence's share of a model step: tokens [Start, Start + Count) of its token list. When the chunk reaches the
/// sequence's last known token, the step samples its next token (<see cref="SamplesNext"/>).
/// </summary>
internal sealed record StepItem(GenerationSequence Sequence, int Start, int Count)
{
    public bool SamplesNext => Start + Count == Sequence.Tokens.Count;
}
