using InferServer.AdapterStore.Peft;
using InferServer.Kernels.Lora;
using InferServer.Server.Models;
using InferServer.Server.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Server.Engine;

/// <summary>
/// Runs one encoder step over texts of possibly several Classify calls, each row with its adapter's LoRA slot, then
/// applies each row's head: the adapter's own classifier (PEFT modules_to_save, any number of labels) or the base
/// head. Softmax over labels, or a sigmoid per label for multi-label models. Rows of Embed calls share the same step
/// and take the mean of their last hidden state instead (sentence-transformers' mean pooling; optionally L2-normalised
/// as its Normalize module does, F.normalize with ε 1e-12). Engine thread only.
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
        var lastHidden = model.Encode(batch);
        var pooled = rows.Any(r => r.Job.Request.Output == EncoderOutput.Labels) ? model.Pool(lastHidden, batch) : null;
        var embeddings = rows.Any(r => r.Job.Request.Output == EncoderOutput.Embedding) ? MeanPool(lastHidden, spans) : null;

        for (var r = 0; r < rows.Count; r++)
        {
            var row = rows[r];
            var tokens = row.Job.Texts[row.TextIndex].Length;
            row.Job.Results[row.TextIndex] = row.Job.Request.Output == EncoderOutput.Embedding
                ? new TextClassification([], tokens) { Embedding = EmbeddingOf(embeddings!, r, row.Job.Request.Normalize) }
                : new TextClassification(Classify(row, pooled!.narrow(0, r, 1)), tokens);
        }
    }

    private IReadOnlyList<LabelScore> Classify(Row row, Tensor pooled)
    {
        var head = row.Job.HostAdapter?.Classifier;
        if (head is null && !model.HasBaseClassifier)
            return []; // A headless encoder with an adapter that brings no head: the front doors refuse the base case up front.
        var logits = head is null ? model.BaseClassifier(pooled) : ApplyHead(head, pooled);
        var scores = (model.MultiLabel ? logits.sigmoid() : logits.softmax(-1)).to(ScalarType.Float64, CPU).data<double>().ToArray();
        var labels = head?.Labels ?? model.Labels;
        return scores.Select((score, index) => new LabelScore(index < labels.Count ? labels[index] : $"LABEL_{index}", index, score))
            .OrderByDescending(s => s.Score).ThenBy(s => s.Index).ToArray();
    }

    private float[] EmbeddingOf(Tensor embeddings, int row, bool? normalize)
    {
        var vector = embeddings.narrow(0, row, 1);
        if (normalize ?? model.Embedding.NormalizeByDefault)
            vector = nn.functional.normalize(vector, p: 2, dim: -1, eps: 1e-12);
        return vector.to(ScalarType.Float32, CPU).data<float>().ToArray();
    }

    /// <summary>Mean of each sequence's rows, [sequences, hidden]: one index_add over all rows, divided by the lengths.</summary>
    private static Tensor MeanPool(Tensor lastHidden, IReadOnlyList<(int Start, int Length)> spans)
    {
        var sequenceOfRow = new long[lastHidden.shape[0]];
        for (var s = 0; s < spans.Count; s++)
            Array.Fill(sequenceOfRow, s, spans[s].Start, spans[s].Length);
        var sums = zeros(spans.Count, lastHidden.shape[1], lastHidden.dtype, lastHidden.device)
            .index_add_(0, tensor(sequenceOfRow, device: lastHidden.device), lastHidden, 1);
        var lengths = tensor(spans.Select(s => (float)s.Length).ToArray(), device: lastHidden.device).to(lastHidden.dtype).unsqueeze(1);
        return sums / lengths;
    }

    private static Tensor ApplyHead(LoraClassifierHead head, Tensor pooled) =>
        nn.functional.linear(pooled, head.Weight.to(pooled.dtype, pooled.device), head.Bias?.to(pooled.dtype, pooled.device));
}
