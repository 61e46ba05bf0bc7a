namespace InferServer.LoadGen.Models;

/// <summary>The shape of a random Llama model and its adapters, as the matrix serves it.</summary>
public sealed record LlamaShape(
    int VocabSize, int HiddenSize, int IntermediateSize, int Layers, int Heads, int KeyValueHeads, int MaxPositions,
    int AdapterCount, int AdapterRank, IReadOnlyList<string> AdapterTargets)
{
    /// <summary>
    /// A small model that answers in milliseconds on a laptop CPU. The vocabulary is GPT-2's, so any text prompt
    /// tokenizes into it.
    /// </summary>
    public static LlamaShape Demo { get; } = new(50257, 256, 688, 2, 4, 2, 1024, 8, 8, ["q_proj", "v_proj"]);

    /// <summary>
    /// A Llama-shaped model at the width of a 1B model (TinyLlama-1.1B's hidden 2048, intermediate 5632, 32 heads over
    /// 4 KV heads; here 16 heads and 4 layers) with 100 rank-16 q/v adapters, so per-token adapter cost is realistic
    /// while one run stays minutes on a CPU. Vocabulary 32,000 (Llama 2's).
    /// </summary>
    public static LlamaShape Large { get; } = new(32000, 2048, 5632, 4, 16, 4, 2048, 100, 16, ["q_proj", "v_proj"]);

    public int HeadDimension => HiddenSize / Heads;

    /// <summary>Input and output width of a target projection.</summary>
    public (int In, int Out) ProjectionShape(string module) => module switch
    {
        "q_proj" or "o_proj" => (HiddenSize, HiddenSize),
        "k_proj" or "v_proj" => (HiddenSize, KeyValueHeads * HeadDimension),
        "gate_proj" or "up_proj" => (HiddenSize, IntermediateSize),
        "down_proj" => (IntermediateSize, HiddenSize),
        _ => throw new ArgumentOutOfRangeException(nameof(module), module, "not a Llama projection"),
    };
}
