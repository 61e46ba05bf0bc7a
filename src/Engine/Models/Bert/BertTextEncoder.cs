using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Bert;

/// <summary>
/// A headless BertModel checkpoint (architectures ["BertModel"], keys at the root: embeddings.*, encoder.*, pooler.*),
/// as sentence-transformers saves all-MiniLM-L6-v2. It serves Embed, and Classify through SEQ_CLS adapters that bring a
/// head (their classifier reads the pooler output, as BertForSequenceClassification's does).
/// </summary>
internal sealed class BertTextEncoder : nn.Module, ISequenceClassifier
{
    private readonly BertEmbeddings embeddings;
    private readonly BertEncoder encoder;
    private readonly BertPooler pooler;
    private readonly IReadOnlyDictionary<string, AdaptedLinear> adaptableModules;

    /// <summary>Weights are uninitialised until <see cref="CheckpointLoader"/> fills them.</summary>
    public BertTextEncoder(BertConfig config, EmbeddingSettings embedding, ModelLoadOptions options) : base(nameof(BertTextEncoder))
    {
        Config = config;
        Embedding = embedding;
        embeddings = new BertEmbeddings(config, options);
        encoder = new BertEncoder(config, options);
        pooler = new BertPooler(config, options);
        RegisterComponents();
        Device = options.Device;
        DType = options.DType;
        // As PEFT wraps them: every Linear (pooler.dense included, for Classify's adapter heads) and every embedding table.
        adaptableModules = AdaptableModuleIndex.Build(this);
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
    public IReadOnlyList<string> Labels => [];

    /// <inheritdoc />
    public bool MultiLabel => false;

    /// <inheritdoc />
    public bool HasBaseClassifier => false;

    /// <inheritdoc />
    public EmbeddingSettings Embedding { get; }

    /// <inheritdoc />
    public int MaxPositions => Config.MaxPositionEmbeddings;

    /// <inheritdoc />
    public int LayerCount => Config.NumHiddenLayers;

    /// <inheritdoc />
    public int HiddenSize => Config.HiddenSize;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, AdaptedLinear> AdaptableModules => adaptableModules;

    /// <inheritdoc />
    public Tensor Encode(EncoderBatch batch) =>
        encoder.Forward(embeddings.Forward(batch.InputIds, batch.Positions, batch.TokenTypeIds, batch.Lora), batch.Sequences, batch.Lora);

    /// <inheritdoc />
    public Tensor Pool(Tensor lastHidden, EncoderBatch batch) => pooler.Forward(lastHidden, batch);

    /// <inheritdoc />
    public Tensor BaseClassifier(Tensor pooled) =>
        throw new InvalidOperationException("a headless BertModel has no classifier; Classify needs an adapter with a head");
}
