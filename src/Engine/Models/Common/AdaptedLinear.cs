using InferServer.AdapterStore;
using InferServer.Kernels.Lora;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Common;

/// <summary>
/// A linear projection that LoRA adapters may target: y = x·Wᵀ (+ bias) plus, per row, that row's adapter delta
/// from the slot pool (<see cref="LoraOps.Linear"/>). Weight layout is [out, in] whatever the checkpoint used.
/// The pool is attached by the adapter store's device tier; a merged weight (W0 + s·B·A, a separate copy so W0 is
/// never modified) is set by the merge cache while a batch belongs to a single merged adapter.
/// </summary>
public sealed class AdaptedLinear : nn.Module, ILoraTarget
{
    private readonly Parameter? weight;
    // A tied output head's weight belongs to the token embedding; it is not registered here, so the checkpoint loader
    // neither looks for it nor loads it twice.
    private readonly Tensor? tiedWeight;
    private readonly Parameter? bias;
    private Tensor? mergedWeight;

    /// <summary>Allocates an uninitialised [out, in] weight (and bias) for the checkpoint loader to fill.</summary>
    public AdaptedLinear(long inFeatures, long outFeatures, bool hasBias, ModelLoadOptions options) : base(nameof(AdaptedLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        weight = options.NewParameter(outFeatures, inFeatures);
        bias = hasBias ? options.NewParameter(outFeatures) : null;
        RegisterComponents();
    }

    /// <summary>
    /// An output head whose weight is <paramref name="sharedWeight"/> [out, in], owned by another module (GPT-2's lm_head
    /// and Llama's with tie_word_embeddings read the token embedding). PEFT can still put a LoRA on such an lm_head.
    /// </summary>
    /// <param name="sharedWeight">W0 [out, in], owned by another module.</param>
    /// <param name="isEmbedding">True for an embedding table seen as a layer on one-hot inputs (<see cref="Lookup"/>).</param>
    public AdaptedLinear(Tensor sharedWeight, bool isEmbedding = false) : base(nameof(AdaptedLinear))
    {
        ArgumentNullException.ThrowIfNull(sharedWeight);
        IsEmbedding = isEmbedding;
        tiedWeight = sharedWeight;
        OutFeatures = sharedWeight.shape[0];
        InFeatures = sharedWeight.shape[1];
    }

    /// <summary>Whether this is an embedding's LoRA target (PEFT's lora.Embedding; never part of all-linear).</summary>
    public bool IsEmbedding { get; }

    /// <summary>Input features.</summary>
    public long InFeatures { get; }

    /// <summary>Output features.</summary>
    public long OutFeatures { get; }

    /// <summary>The frozen base weight W0, [out, in].</summary>
    public Tensor Weight => (Tensor?)weight ?? tiedWeight!;

    /// <summary>The bias, if the checkpoint has one.</summary>
    public Tensor? Bias => bias;

    /// <summary>The device slot pool holding every resident adapter's A and B for this module, if any adapter targets it.</summary>
    public LoraSlotPool? Pool { get; set; }

    /// <summary>
    /// Uses <paramref name="merged"/> instead of W0 (null restores W0, which was never touched). The caller owns the tensor.
    /// </summary>
    public void SetMergedWeight(Tensor? merged)
    {
        if (merged is not null && !merged.shape.SequenceEqual(Weight.shape))
        {
            throw new ArgumentException($"merged weight shape [{string.Join(", ", merged.shape)}] differs from W0 [{string.Join(", ", Weight.shape)}]");
        }

        mergedWeight = merged;
    }

    /// <summary>
    /// Projects x [rows, in]. With a <paramref name="lora"/> batch, each row adds its own slot's adapter delta; without
    /// one (base-only or merged batches) this is a plain linear layer.
    /// </summary>
    public Tensor Forward(Tensor x, LoraBatch? lora) =>
        mergedWeight is not null
            ? LoraOps.BaseLinear(x, mergedWeight, bias)
            : LoraOps.Linear(x, Weight, bias, lora is null ? null : Pool, lora);

    /// <summary>
    /// An embedding lookup seen as this layer on one-hot inputs (W0 is the table transposed, [dimension, entries]): rows of the
    /// table for int64 <paramref name="ids"/> [rows], each plus its slot's <see cref="LoraEmbeddingOps"/> delta.
    /// </summary>
    public Tensor Lookup(Tensor ids, LoraBatch? lora)
    {
        if (mergedWeight is not null)
        {
            return mergedWeight.t().index_select(0, ids);
        }

        var y = Weight.t().index_select(0, ids);
        if (lora is { HasAdapters: true } && Pool is { } pool)
        {
            LoraEmbeddingOps.AddDelta(y, ids, pool, lora);
        }

        return y;
    }
}
