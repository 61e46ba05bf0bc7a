using InferServer.Kernels;
using InferServer.Kernels.Attention;
using InferServer.Kernels.Rotary;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Gemma;

/// <summary>
/// Gemma2ForCausalLM and Gemma3ForCausalLM (text-only), transcribed from transformers' modeling_gemma2.py and
/// modeling_gemma3.py: (1 + w) RMSNorms before and after attention and MLP, embeddings × √hidden, GeGLU (tanh GELU),
/// query_pre_attn_scalar, attention and final-logit soft-capping (Gemma 2), sliding-window layers between full ones, and for
/// Gemma 3 q/k norms and a separate RoPE base (rope_local_base_freq) for sliding layers. The KV cache keeps every position
/// (full layers need them); sliding layers see only the last sliding_window of them through their own attention masks.
/// </summary>
public sealed class GemmaForCausalLM : nn.Module, ICausalLanguageModel
{
    private readonly GemmaModel model;
    private readonly AdaptedLinear lm_head;
    private readonly RotaryEmbedding globalRotary;
    private readonly RotaryEmbedding? localRotary;
    private readonly IReadOnlyDictionary<string, AdaptedLinear> adaptableModules;

    /// <summary>Weights are uninitialised until <see cref="CheckpointLoader"/> fills them.</summary>
    public GemmaForCausalLM(GemmaConfig config, ModelLoadOptions options) : base(nameof(GemmaForCausalLM))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        model = new GemmaModel(config, options);
        lm_head = config.TieWordEmbeddings
            ? new AdaptedLinear(model.EmbeddingWeight)
            : new AdaptedLinear(config.HiddenSize, config.VocabSize, false, options);
        globalRotary = new RotaryEmbedding(config.HeadDim, config.GlobalRopeTheta, config.MaxPositionEmbeddings,
            config.ParsedRopeScaling(), options.DType, options.Device);
        // Gemma 2 rotates every layer alike; Gemma 3's sliding layers use their own base and no scaling.
        localRotary = config.IsGemma3
            ? new RotaryEmbedding(config.HeadDim, config.RopeLocalBaseFreq, config.MaxPositionEmbeddings, null, options.DType, options.Device)
            : null;
        RegisterComponents();
        Device = options.Device;
        DType = options.DType;
        Shape = new CausalModelShape(config.NumHiddenLayers, config.KeyValueHeads, config.HeadDim, config.VocabSize, config.MaxPositionEmbeddings);
        adaptableModules = AdaptableModuleIndex.Build(this);
    }

    /// <summary>The parsed config.</summary>
    public GemmaConfig Config { get; }

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

    /// <summary>Checkpoint keys are parameter names, except a tied lm_head some exports save anyway.</summary>
    public CheckpointLayout Layout => new(key => Config.TieWordEmbeddings && key == "lm_head.weight" ? null : key, new HashSet<string>());

    /// <inheritdoc />
    public Tensor Forward(CausalBatch batch, KvCache cache)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var global = globalRotary.ForPositions(batch.Positions);
        var local = localRotary?.ForPositions(batch.Positions) ?? global;
        // The step's attention covers whole contexts; the sliding layers get the same slots with the window applied.
        var windowed = Config.SlidingWindow is int window ? AttentionBatch.Create(batch.Attention.Sequences, window, Device) : batch.Attention;
        var hidden = model.Forward(batch.InputIds, global, local, cache, batch.Attention, windowed, batch.Lora);
        if (batch.LogitRows is not null)
        {
            hidden = hidden.index_select(0, batch.LogitRows);
        }

        var logits = OutputHead.Project(lm_head, hidden, batch);
        return Config.FinalSoftCap is double cap ? logits.DividedBy(cap).tanh().Times(cap) : logits;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            globalRotary.Dispose();
            localRotary?.Dispose();
        }

        base.Dispose(disposing);
    }
}
