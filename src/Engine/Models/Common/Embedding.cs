using InferServer.Kernels.Lora;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Common;

/// <summary>
/// A lookup table [entries, dimension] (token, position or token-type embeddings). PEFT can put a LoRA on it
/// (<c>lora_embedding_A</c>/<c>_B</c>); <see cref="LoraTarget"/> is where the adapter store attaches that, at this module's path.
/// </summary>
public sealed class Embedding : nn.Module
{
    private readonly Parameter weight;
    private readonly AdaptedLinear loraTarget;

    public Embedding(long entries, long dimension, ModelLoadOptions options) : base(nameof(Embedding))
    {
        weight = options.NewParameter(entries, dimension);
        RegisterComponents();
        // Made after RegisterComponents on purpose: it is not a child module (its adapter path is this module's own path,
        // and its weight is this table, which must load once).
        loraTarget = new AdaptedLinear(weight.t(), isEmbedding: true);
    }

    /// <summary>The table, [entries, dimension] (also the tied output projection of GPT-2).</summary>
    public Tensor Weight => weight;

    /// <summary>The table as a linear layer on one-hot inputs (W0 = tableᵀ, in = entries, out = dimension), for LoRA.</summary>
    public AdaptedLinear LoraTarget => loraTarget;

    /// <summary>Rows of the table for int64 ids [n]: [n, dimension], each row plus its adapter's embedding delta.</summary>
    public Tensor Forward(Tensor ids, LoraBatch? lora = null) => loraTarget.Lookup(ids, lora);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            loraTarget.Dispose();
        }

        base.Dispose(disposing);
    }
}
