using InferServer.Kernels.Attention;
using InferServer.Kernels.Rotary;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Llama;

/// <summary>
/// LlamaForCausalLM (also Mistral, Qwen2 and Qwen3, which differ only in switches of <see cref="LlamaConfig"/>). Field names
/// equal checkpoint keys, so the checkpoint loads by name with no exception list beyond a tied lm_head.
/// </summary>
public sealed class LlamaForCausalLM : nn.Module, ICausalLanguageModel
{
    private readonly LlamaModel model;
    private readonly AdaptedLinear lm_head;
    private readonly RotaryEmbedding rotary;
    private readonly IReadOnlyDictionary<string, AdaptedLinear> adaptableModules;

    /// <summary>Weights are uninitialised until <see cref="CheckpointLoader"/> fills them.</summary>
    public LlamaForCausalLM(LlamaConfig config, ModelLoadOptions options) : this(config, options, null)
    {
    }

    /// <summary>The same model with another decoder layer (Phi-3's fused projections); weights as above.</summary>
    internal LlamaForCausalLM(LlamaConfig config, ModelLoadOptions options, Func<LlamaConfig, ModelLoadOptions, IDecoderLayer>? layer)
        : base(nameof(LlamaForCausalLM))
    {
        Config = config;
        model = new LlamaModel(config, options, layer);
        lm_head = config.TiedEmbeddings
            ? new AdaptedLinear(model.EmbeddingWeight)
            : new AdaptedLinear(config.HiddenSize, config.VocabSize, false, options);
        rotary = new RotaryEmbedding(config.HeadDimension, config.RopeTheta, config.MaxPositionEmbeddings,
            config.ParsedRopeScaling(), options.DType, options.Device, config.RotaryDimension, config.ParsedLongRope());
        RegisterComponents();
        Device = options.Device;
        DType = options.DType;
        Shape = new CausalModelShape(config.NumHiddenLayers, config.KeyValueHeads, config.HeadDimension,
            config.VocabSize, config.MaxPositionEmbeddings, config.EffectiveSlidingWindow, config.ParsedLongRope() is not null);
        adaptableModules = AdaptableModuleIndex.Build(this);
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
    public CausalModelShape Shape { get; }

    /// <inheritdoc />
    public int LayerCount => Config.NumHiddenLayers;

    /// <inheritdoc />
    public int HiddenSize => Config.HiddenSize;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, AdaptedLinear> AdaptableModules => adaptableModules;

    /// <summary>How checkpoint keys map to parameters: identical, except a tied lm_head some exports save anyway.</summary>
    public CheckpointLayout Layout => new(
        key => Config.TiedEmbeddings && key == "lm_head.weight" ? null : key,
        new HashSet<string>());

    /// <inheritdoc />
    public Tensor Forward(CausalBatch batch, KvCache cache)
    {
        var (cos, sin) = rotary.ForSequences(batch.Positions, batch.Attention.Sequences);
        var hidden = model.Forward(batch.InputIds, cos, sin, cache, batch.Attention, batch.Lora);
        if (batch.LogitRows is not null)
        {
            hidden = hidden.index_select(0, batch.LogitRows);
        }

        return OutputHead.Project(lm_head, hidden, batch);
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
