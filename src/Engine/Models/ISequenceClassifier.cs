using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models;

/// <summary>
/// An encoder serving Classify (through its own head or an adapter's) and Embed: BertForSequenceClassification, or a
/// headless BertModel such as a sentence-transformers checkpoint, whose Classify calls need an adapter with a head.
/// </summary>
public interface ISequenceClassifier : IBaseModel
{
    /// <summary>Label names of the base head, by index (config.json id2label).</summary>
    IReadOnlyList<string> Labels { get; }

    /// <summary>True when config.json's problem_type is multi-label (sigmoid per label, not softmax over labels).</summary>
    bool MultiLabel { get; }

    /// <summary>Longest sequence the position table allows.</summary>
    int MaxPositions { get; }

    /// <summary>False for a headless encoder: Classify then needs an adapter that brings its own head.</summary>
    bool HasBaseClassifier { get; }

    /// <summary>How Embed pools and whether it normalises by default (sentence-transformers' modules, else mean, raw).</summary>
    EmbeddingSettings Embedding { get; }

    /// <summary>The last hidden state of every row, [rows, hidden].</summary>
    Tensor Encode(EncoderBatch batch);

    /// <summary>Pooler output of each sequence from <see cref="Encode"/>'s result, [sequences, hidden] — the classifier heads' input.</summary>
    Tensor Pool(Tensor lastHidden, EncoderBatch batch);

    /// <summary>Pooled representation of each sequence, [sequences, hidden] — the classifier heads' input.</summary>
    Tensor Pool(EncoderBatch batch) => Pool(Encode(batch), batch);

    /// <summary>The base model's own head applied to pooled rows: logits [rows, labels].</summary>
    Tensor BaseClassifier(Tensor pooled);
}
