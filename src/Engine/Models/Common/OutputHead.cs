using static TorchSharp.torch;

namespace InferServer.Engine.Models.Common;

/// <summary>
/// The output head (lm_head) of a causal model, run on the rows whose logits are wanted. PEFT adapts lm_head when an
/// adapter names it (never through all-linear), so the head gets each logit row's adapter slot, not the step's.
/// </summary>
internal static class OutputHead
{
    /// <summary>Logits of <paramref name="hidden"/> (already reduced to <see cref="CausalBatch.LogitRows"/>).</summary>
    public static Tensor Project(AdaptedLinear head, Tensor hidden, CausalBatch batch)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Lora is null || head.Pool is null)
        {
            return head.Forward(hidden, null);
        }

        if (batch.LogitRows is null)
        {
            return head.Forward(hidden, batch.Lora);
        }

        if (batch.LogitLora is not null)
        {
            return head.Forward(hidden, batch.LogitLora);
        }

        // Only reached when a caller did not build LogitLora: one small copy of the row indices to the host.
        var rows = Array.ConvertAll(batch.LogitRows.cpu().data<long>().ToArray(), row => (int)row);
        using var logitLora = batch.Lora.SelectRows(rows);
        return head.Forward(hidden, logitLora);
    }
}
