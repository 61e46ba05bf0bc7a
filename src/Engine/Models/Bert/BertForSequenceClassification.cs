using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Bert;

/// <summary>
/// BertForSequenceClassification. The pooled output is exposed separately from the head because a SEQ_CLS adapter
/// brings its own classifier (PEFT modules_to_save), possibly with another number of labels: the engine applies each
/// row's head. Checkpoint exception: the position_ids buffer some exports save is ignored.
/// </summary>
public sealed class BertForSequenceClassification : nn.Module, ISequenceClassifier
{
    private readonly BertModel bert;
    private readonly AdaptedLinear classifier;
    private readonly IReadOnlyDictionary<string, AdaptedLinear> adaptableModules;

    /// <summary>Weights are uninitialised until <see cref="CheckpointLoader"/> fills them.</summary>
    public BertForSequenceClassification(BertConfig config, ModelLoadOptions options) : base(nameof(BertForSequenceClassification))
    {
        Config = config;
        Labels = config.Labels;
        bert = new BertModel(config, options);
        classifier = new AdaptedLinear(config.HiddenSize, Labels.Count, true, options);
        RegisterComponents();
        Device = options.Device;
        DType = options.DType;
        // The classifier is PEFT's modules_to_save for SEQ_CLS (an adapter brings its own head), never a LoRA target.
        adaptableModules = AdaptableModuleIndex.Build(this, "classifier");
    }

    /// <summary>The parsed config.</summary>
    public BertConfig Config { get; }

    /// <inheritdoc />
    public string ModelType => "bert";

    /// <inheritdoc />
    public Device Device { get; }

    /// <inheritdoc />
    public ScalarType DType { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> Labels { get; }

    /// <inheritdoc />
    public bool MultiLabel => Config.ProblemType == "multi_label_classification";

    /// <inheritdoc />
    public int MaxPositions => Config.MaxPositionEmbeddings;

    /// <inheritdoc />
    public int LayerCount => Config.NumHiddenLayers;

    /// <inheritdoc />
    public int HiddenSize => Config.HiddenSize;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, AdaptedLinear> AdaptableModules => adaptableModules;

    /// <summary>Checkpoint exceptions: the position_ids buffer.</summary>
    public static CheckpointLayout Layout { get; } = new(
        key => key.EndsWith("embeddings.position_ids", StringComparison.Ordinal) ? null : key, new HashSet<string>());

    /// <inheritdoc />
    public bool HasBaseClassifier => true;

    /// <inheritdoc />
    public EmbeddingSettings Embedding { get; init; } = EmbeddingSettings.Default;

    /// <inheritdoc />
    public Tensor Encode(EncoderBatch batch) => bert.Encode(batch);

    /// <inheritdoc />
    public Tensor Pool(Tensor lastHidden, EncoderBatch batch) => bert.Pool(lastHidden, batch);

    /// <inheritdoc />
    public Tensor BaseClassifier(Tensor pooled) => classifier.Forward(pooled, null);
}
