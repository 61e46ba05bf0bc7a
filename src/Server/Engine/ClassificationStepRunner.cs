using InferServer.AdapterStore.Peft;
using InferServer.Kernels.Lora;
using InferServer.Server.Models;
using InferServer.Server.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Server.Engine;

/// <summary>
/// Runs one encoder step over texts of possibly several Classify calls, each row with its adapter's LoRA slot, then
/// applies each row's head: the adapter's own classifier (PEFT modules_to_save, any number of labels) or the base
/// head. Softmax over labels, or a sigmoid per label for multi-label models. Engine thread only.
/// </summary>
internal sealed class ClassificationStepRunner(ISequenceClassifier model)
{
    /// <summary>One text of one job, with the device slot of the job's adapter (0 = base).</summary>
    public sealed record Row(ClassificationJob Job, int TextIndex, int Slot);

    /// <summary>Classifies the rows and stores each result in its job.</summary>
    public void Run(IReadOnlyList<Row> rows)
    {
        using var scope = NewDisposeScope();
        var ids = new List<long>();
        var positions = new List<long>();
        var tokenSlots = new List<int>();
        var spans = new List<(int Start, int Length)>();
        foreach (var row in rows)
        {
            var text = row.Job.Texts[row.TextIndex];
            spans.Add((ids.Count, text.Length));
            for (var position = 0; position < text.Length; position++)
            {
                ids.Add(text[position]);
                positions.Add(position);
                tokenSlots.Add(row.Slot);
            }
        }
        var device = model.Device;
        using var lora = tokenSlots.Any(s => s != 0) ? LoraBatch.Create(tokenSlots.ToArray(), device) : null;
        var batch = new EncoderBatch(tensor(ids.ToArray(), device: device), tensor(positions.ToArray(), device: device),
            zeros(ids.Count, ScalarType.Int64, device), spans, lora);
        var pooled = model.Pool(batch);

        for (var r = 0; r < rows.Count; r++)
        {
            var row = rows[r];
            var head = row.Job.HostAdapter?.Classifier;
            var input = pooled.narrow(0, r, 1);
            var logits = head is null ? model.BaseClassifier(input) : ApplyHead(head, input);
            var scores = (model.MultiLabel ? logits.sigmoid() : logits.softmax(-1)).to(ScalarType.Float64, CPU).data<double>().ToArray();
            var labels = head?.Labels ?? model.Labels;
            var ranked = scores.Select((score, index) => new LabelScore(index < labels.Count ? labels[index] : $"LABEL_{index}", index, score))
                .OrderByDescending(s => s.Score).ThenBy(s => s.Index).ToArray();
            row.Job.Results[row.TextIndex] = new TextClassification(ranked, row.Job.Texts[row.TextIndex].Length);
        }
    }

    private static Tensor ApplyHead(LoraClassifierHead head, Tensor pooled) =>
        nn.functional.linear(pooled, head.Weight.to(pooled.dtype, pooled.device), head.Bias?.to(pooled.dtype, pooled.device));
}
