using InferServer.Server.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Server.Models;

/// <summary>An encoder with a classification head (BertForSequenceClassification).</summary>
public interface ISequenceClassifier : IBaseModel
{
    /// <summary>Label names of the base head, by index (config.json id2label).</summary>
    IReadOnlyList<string> Labels { get; }

    /// <summary>True when config.json's problem_type is multi-label (sigmoid per label, not softmax over labels).</summary>
    bool MultiLabel { get; }

    /// <summary>Longest sequence the position table allows.</summary>
    int MaxPositions { get; }

    /// <summary>Pooled representation of each sequence, [sequences, hidden] — the classifier heads' input.</summary>
    Tensor Pool(EncoderBatch batch);

    /// <summary>The base model's own head applied to pooled rows: logits [rows, labels].</summary>
    Tensor BaseClassifier(Tensor pooled);
}
