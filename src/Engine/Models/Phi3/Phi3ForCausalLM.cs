using InferServer.Kernels.Attention;
using InferServer.Kernels.Rotary;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Phi3;

/// <summary>
/// Phi3ForCausalLM (Phi-3, Phi-3.5, Phi-4-mini; transformers' modeling_phi3.py): Llama's decoder with the attention's q/k/v
/// fused into qkv_proj and the MLP's gate/up into gate_up_proj, and Mistral's sliding_window. Config switches Phi-3 does not
/// honour here are refused by <see cref="Llama.LlamaConfig.Validate"/>: longrope/su rope_scaling (Phi-3-128k, Phi-3.5) and a
/// partial_rotary_factor other than 1 (Phi-4-mini's 0.75) by name.
/// </summary>
public sealed class Phi3ForCausalLM : nn.Module, ICausalLanguageModel
{
    private readonly Phi3Model model;
    private readonly AdaptedLinear lm_head;
    private readonly RotaryEmbedding rotary;
    private readonly IReadOnlyDictionary<string, AdaptedLinear> adaptableModules;

    /// <summary>Weights are uninitialised until <see cref="CheckpointLoader"/> fills them.</summary>
    public Phi3ForCausalLM(Llama.LlamaConfig config, ModelLoadOptions options) : base(nameof(Phi3ForCausalLM))
    {
        Config = config;
        model = new Phi3Model(config, options);
        lm_head = config.TiedEmbeddings
            ? new AdaptedLinear(model.EmbeddingWeight)
            : new AdaptedLinear(config.HiddenSize, config.VocabSize, false, options);
        rotary = new RotaryEmbedding(config.HeadDimension, config.RopeTheta, config.MaxPositionEmbeddings,
            config.ParsedRopeScaling(), options.DType, options.Device);
        RegisterComponents();
        Device = options.Device;
        DType = options.DType;
        Shape = new CausalModelShape(config.NumHiddenLayers, config.KeyValueHeads, config.HeadDimension,
            config.VocabSize, config.MaxPositionEmbeddings, config.EffectiveSlidingWindow);
        adaptableModules = AdaptableModuleIndex.Build(this);
    }

    /// <summary>The parsed config.</summary>
    public Llama.LlamaConfig Config { get; }

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
        var (cos, sin) = rotary.ForPositions(batch.Positions);
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
