using InferServer.Kernels.Attention;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Gpt2;

/// <summary>
/// GPT2LMHeadModel with its head tied to the token embeddings. The checkpoint exceptions, all in <see cref="Layout"/>:
/// the four Conv1D weights per block are stored [in, out] and transposed at load; the hub's original gpt2 checkpoint has
/// no "transformer." prefix; old exports carry attn.bias / attn.masked_bias mask buffers, and a tied lm_head.weight.
/// </summary>
public sealed class Gpt2LMHeadModel : nn.Module, ICausalLanguageModel
{
    private static readonly string[] Conv1DWeights = ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"];
    private readonly Gpt2Model transformer;
    private readonly AdaptedLinear lm_head;
    private readonly IReadOnlyDictionary<string, AdaptedLinear> adaptableModules;

    /// <summary>Weights are uninitialised until <see cref="CheckpointLoader"/> fills them.</summary>
    public Gpt2LMHeadModel(Gpt2Config config, ModelLoadOptions options) : base(nameof(Gpt2LMHeadModel))
    {
        Config = config;
        transformer = new Gpt2Model(config, options);
        lm_head = new AdaptedLinear(transformer.TokenEmbeddingWeight);
        RegisterComponents();
        Device = options.Device;
        DType = options.DType;
        Shape = new CausalModelShape(config.NLayer, config.NHead, config.NEmbd / config.NHead, config.VocabSize, config.NPositions);
        adaptableModules = AdaptableModuleIndex.Build(this);
    }

    /// <summary>The parsed config.</summary>
    public Gpt2Config Config { get; }

    /// <inheritdoc />
    public string ModelType => "gpt2";

    /// <inheritdoc />
    public Device Device { get; }

    /// <inheritdoc />
    public ScalarType DType { get; }

    /// <inheritdoc />
    public CausalModelShape Shape { get; }

    /// <inheritdoc />
    public int LayerCount => Config.NLayer;

    /// <inheritdoc />
    public int HiddenSize => Config.NEmbd;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, AdaptedLinear> AdaptableModules => adaptableModules;

    /// <summary>Checkpoint exceptions (see the class summary).</summary>
    public CheckpointLayout Layout => new(MapKey,
        Enumerable.Range(0, Config.NLayer).SelectMany(i => Conv1DWeights.Select(w => $"transformer.h.{i}.{w}")).ToHashSet());

    private static string? MapKey(string key)
    {
        if (key == "lm_head.weight" || key.EndsWith(".attn.bias", StringComparison.Ordinal)
            || key.EndsWith(".attn.masked_bias", StringComparison.Ordinal))
        {
            return null;
        }

        return key.StartsWith("transformer.", StringComparison.Ordinal) ? key : "transformer." + key;
    }

    /// <inheritdoc />
    public Tensor Forward(CausalBatch batch, KvCache cache)
    {
        var hidden = transformer.Forward(batch.InputIds, batch.Positions, cache, batch.Attention, batch.Lora);
        if (batch.LogitRows is not null)
        {
            hidden = hidden.index_select(0, batch.LogitRows);
        }

        return OutputHead.Project(lm_head, hidden, batch);
    }
}
