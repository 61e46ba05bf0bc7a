using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Server.Models.Common;

/// <summary>A lookup table [entries, dimension] (token, position or token-type embeddings).</summary>
public sealed class Embedding : nn.Module
{
    private readonly Parameter weight;

    /// <summary>Allocates the table for the checkpoint loader to fill.</summary>
    public Embedding(long entries, long dimension, ModelLoadOptions options) : base(nameof(Embedding))
    {
        weight = options.NewParameter(entries, dimension);
        RegisterComponents();
    }

    /// <summary>The table, [entries, dimension] (also the tied output projection of GPT-2).</summary>
    public Tensor Weight => weight;

    /// <summary>Rows of the table for int64 ids [n]: [n, dimension].</summary>
    public Tensor Forward(Tensor ids) => weight.index_select(0, ids);
}
