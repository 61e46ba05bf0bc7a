using InferServer.Kernels.Attention;
using InferServer.Kernels.Rotary;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Llama;

/// <summary>
/// LlamaForSequenceClassification (also Mistral's, Qwen2's and Qwen3's, the same switches as <see cref="LlamaForCausalLM"/>):
/// the decoder stack, then <c>score</c>, a Linear without bias from hidden to num_labels, read at one position per text.
/// transformers (modeling_llama.py <c>LlamaForSequenceClassification.forward</c>, and
/// GenericForSequenceClassification in modeling_layers.py since 4.53) pools the rightmost token that is not
/// pad_token_id, or the last token when the config has no pad token. Classify runs each text unpadded through causal
/// attention, so a text's own trailing pad tokens (pad = eos, as many Llama reward models set it) are skipped exactly
/// as transformers skips them. <c>score</c> is PEFT's modules_to_save for SEQ_CLS: an adapter brings its own, of any
/// label count, and it is never a LoRA target.
/// </summary>
public sealed class LlamaForSequenceClassification : nn.Module, ISequenceClassifier
{
    private readonly LlamaModel model;
    private readonly AdaptedLinear score;
    private readonly RotaryEmbedding rotary;
    private readonly IReadOnlyDictionary<string, AdaptedLinear> adaptableModules;

    /// <summary>Weights are uninitialised until <see cref="CheckpointLoader"/> fills them.</summary>
    public LlamaForSequenceClassification(LlamaConfig config, ModelLoadOptions options) : base(nameof(LlamaForSequenceClassification))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        Labels = config.Labels;
        model = new LlamaModel(config, options);
        score = new AdaptedLinear(config.HiddenSize, Labels.Count, false, options);
        rotary = new RotaryEmbedding(config.HeadDimension, config.RopeTheta, config.MaxPositionEmbeddings,
            config.ParsedRopeScaling(), options.DType, options.Device);
        RegisterComponents();
        Device = options.Device;
        DType = options.DType;
        adaptableModules = AdaptableModuleIndex.Build(this, ClassifierModule);
    }

    /// <summary>The parsed config.</summary>
    public LlamaConfig Config { get; }

    /// <inheritdoc />
    public string ModelType => Config.ModelType;

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
    public bool HasBaseClassifier => true;

    /// <inheritdoc />
    public string ClassifierModule => "score";

    /// <inheritdoc />
    public bool ClassifierHasBias => false;

    /// <summary>Embed is not served: a decoder classifier's mean-pooled states are no sentence embedding.</summary>
    public bool ServesEmbeddings => false;

    /// <inheritdoc />
    public EmbeddingSettings Embedding => EmbeddingSettings.Default;

    /// <inheritdoc />
    public int LayerCount => Config.NumHiddenLayers;

    /// <inheritdoc />
    public int HiddenSize => Config.HiddenSize;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, AdaptedLinear> AdaptableModules => adaptableModules;

    /// <summary>
    /// Causal attention over each text through the same paged kernel generation uses, with a scratch KV cache that holds
    /// only this step's tokens (a classification keeps nothing between steps); Mistral's window applies as in generation.
    /// </summary>
    public Tensor Encode(EncoderBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var rows = batch.InputIds.shape[0];
        using var cache = new KvCache(Config.NumHiddenLayers, rows, Config.KeyValueHeads, Config.HeadDimension, DType, Device);
        var spans = batch.Sequences.Select(s =>
            new SequenceSpan(s.Start, s.Length, s.Length, Enumerable.Range(s.Start, s.Length).Select(slot => (long)slot).ToArray())).ToArray();
        var attention = AttentionBatch.Create(spans, Config.EffectiveSlidingWindow, Device);
        var (cos, sin) = rotary.ForPositions(batch.Positions);
        return model.Forward(batch.InputIds, cos, sin, cache, attention, batch.Lora);
    }

    /// <summary>Each text's hidden state at <see cref="PooledPosition"/>, [texts, hidden].</summary>
    public Tensor Pool(Tensor lastHidden, EncoderBatch batch)
    {
        ArgumentNullException.ThrowIfNull(lastHidden);
        ArgumentNullException.ThrowIfNull(batch);
        var ids = batch.InputIds.cpu().data<long>().ToArray();
        var pooledRows = batch.Sequences
            .Select(s => (long)(s.Start + PooledPosition(ids.AsSpan(s.Start, s.Length), Config.PadTokenId))).ToArray();
        return lastHidden.index_select(0, tensor(pooledRows, device: lastHidden.device));
    }

    /// <inheritdoc />
    public Tensor BaseClassifier(Tensor pooled) => score.Forward(pooled, null);

    /// <summary>
    /// transformers' rule for one unpadded text: without a pad token the last position; otherwise the rightmost position
    /// whose token is not the pad token, found as argmax(arange · (ids ≠ pad)), which gives 0 when every token is the pad.
    /// </summary>
    public static int PooledPosition(ReadOnlySpan<long> ids, int? padTokenId)
    {
        if (padTokenId is not int pad)
        {
            return ids.Length - 1;
        }

        for (var position = ids.Length - 1; position > 0; position--)
        {
            if (ids[position] != pad)
            {
                return position;
            }
        }

        return 0;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            rotary.Dispose();
        }

        base.Dispose(disposing);
    }
}
