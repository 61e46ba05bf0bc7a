namespace InferServer.Engine.Models.Common;

/// <summary>
/// How an architecture's checkpoint keys relate to its parameter names: the short, explicit list of exceptions to
/// "key = parameter name, same shape" (nanoGPT's from_pretrained keeps the same kind of list).
/// </summary>
/// <param name="MapKey">Checkpoint key → parameter name; null marks a key that is known and deliberately unused
/// (mask buffers of old GPT-2 exports, a tied lm_head saved anyway).</param>
/// <param name="TransposedParameters">Parameters stored [in, out] in the checkpoint (GPT-2's Conv1D weights).</param>
public sealed record CheckpointLayout(Func<string, string?> MapKey, IReadOnlySet<string> TransposedParameters)
{
    /// <summary>Keys are parameter names and nothing is transposed.</summary>
    public static CheckpointLayout Identity { get; } = new(key => key, new HashSet<string>());
}
