using InferServer.AdapterStore.Peft;
using InferServer.Kernels;
using InferServer.Kernels.Lora;
using InferServer.Engine.Models;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine;

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
        var embedRows = Enumerable.Range(0, rows.Count).Where(r => rows[r].Job.Request.Output == EncoderOutput.Embedding).ToArray();
        if (embedRows.Length > 0)
        {
            StoreEmbeddings(rows, embedRows, MeanPool(lastHidden, spans));
        }

        if (embedRows.Length < rows.Count)
        {
            StoreScores(rows, model.Pool(lastHidden, batch));
        }
    }

    /// <summary>
    /// One pass per distinct head (base or adapter), not per row: a head, its softmax and the copy to the host are a few
    /// calls each, and 64 rows of one adapter made 64 of each.
    /// </summary>
    private void StoreScores(IReadOnlyList<Row> rows, Tensor pooled)
    {
        var groups = Enumerable.Range(0, rows.Count).Where(r => rows[r].Job.Request.Output == EncoderOutput.Labels)
            .GroupBy(r => rows[r].Job.HostAdapter?.Classifier, ReferenceEqualityComparer.Instance);
        foreach (var group in groups)
        {
            var head = (LoraClassifierHead?)group.Key;
            var members = group.ToArray();
            if (head is null && !model.HasBaseClassifier)
            {
                throw new InvalidOperationException("a row without a head reached a headless encoder; the engine refuses such jobs before planning");
            }

            var input = pooled.index_select(0, tensor(members.Select(r => (long)r).ToArray(), device: pooled.device));
            var logits = head is null ? model.BaseClassifier(input) : ApplyHead(head, input);
            // One output (a reward model, a regression head) gets a sigmoid, as transformers' text-classification pipeline and vLLM
            // give it: a softmax over one label is always 1.
            var probabilities = (model.MultiLabel || logits.shape[1] == 1 ? logits.sigmoid() : logits.softmax(-1)).to(ScalarType.Float64, CPU);
            var width = (int)probabilities.shape[1];
            var scores = probabilities.data<double>().ToArray();
            var labels = head?.Labels ?? model.Labels;
            for (var m = 0; m < members.Length; m++)
            {
                var row = rows[members[m]];
                var ranked = Enumerable.Range(0, width)
                    .Select(index => new LabelScore(index < labels.Count ? labels[index] : $"LABEL_{index}", index, scores[m * width + index]))
                    .OrderByDescending(score => score.Score).ThenBy(score => score.Index).ToArray();
                row.Job.Results[row.TextIndex] = new TextClassification(ranked, row.Job.Texts[row.TextIndex].Length);
            }
        }
    }

    /// <summary>The embedding rows' vectors, normalised where asked, copied to the host in one piece.</summary>
    private void StoreEmbeddings(IReadOnlyList<Row> rows, int[] embedRows, Tensor means)
    {
        var selected = means.index_select(0, tensor(embedRows.Select(r => (long)r).ToArray(), device: means.device));
        var normalize = embedRows.Select(r => rows[r].Job.Request.Normalize ?? model.Embedding.NormalizeByDefault).ToArray();
        if (normalize.Any(n => n))
        {
            var normalized = nn.functional.normalize(selected, p: 2, dim: -1, eps: 1e-12);
            selected = normalize.All(n => n) ? normalized
                : where(tensor(normalize, device: means.device).unsqueeze(1), normalized, selected);
        }
        var width = (int)selected.shape[1];
        var values = selected.to(ScalarType.Float32, CPU).data<float>().ToArray();
        for (var e = 0; e < embedRows.Length; e++)
        {
            var row = rows[embedRows[e]];
            row.Job.Results[row.TextIndex] = new TextClassification([], row.Job.Texts[row.TextIndex].Length)
            { Embedding = values.AsSpan(e * width, width).ToArray() };
        }
    }

    /// <summary>Mean of each sequence's rows, [sequences, hidden]: one index_add over all rows, divided by the lengths.</summary>
    private static Tensor MeanPool(Tensor lastHidden, IReadOnlyList<(int Start, int Length)> spans)
    {
        var sequenceOfRow = new long[lastHidden.shape[0]];
        for (var s = 0; s < spans.Count; s++)
        {
            Array.Fill(sequenceOfRow, s, spans[s].Start, spans[s].Length);
        }

        var sums = zeros(spans.Count, lastHidden.shape[1], lastHidden.dtype, lastHidden.device)
            .index_add_(0, tensor(sequenceOfRow, device: lastHidden.device), lastHidden, TensorMath.One);
        var lengths = tensor(spans.Select(s => (float)s.Length).ToArray(), device: lastHidden.device).to(lastHidden.dtype).unsqueeze(1);
        return sums / lengths;
    }

    private static Tensor ApplyHead(LoraClassifierHead head, Tensor pooled) =>
        nn.functional.linear(pooled, head.Weight.to(pooled.dtype, pooled.device), head.Bias?.to(pooled.dtype, pooled.device));
}
