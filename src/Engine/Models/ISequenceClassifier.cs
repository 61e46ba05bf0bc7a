using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models;

/// <summary>
/// A model serving Classify (through its own head or an adapter's) and, for encoders, Embed: BertForSequenceClassification,
/// a headless BertModel such as a sentence-transformers checkpoint (whose Classify calls need an adapter with a head), or
/// a decoder with a score head (LlamaForSequenceClassification and its Mistral/Qwen2/Qwen3 kin).
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

    /// <summary>The head's module path, which a SEQ_CLS adapter replaces (PEFT modules_to_save): BERT's classifier, a decoder's score.</summary>
    string ClassifierModule => "classifier";

    /// <summary>Whether the head has a bias (BERT's does; a decoder's score does not), which an adapter's head must match.</summary>
    bool ClassifierHasBias => true;

    /// <summary>Whether Embed is served (encoders); a decoder classifier answers Classify only.</summary>
    bool ServesEmbeddings => true;

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
