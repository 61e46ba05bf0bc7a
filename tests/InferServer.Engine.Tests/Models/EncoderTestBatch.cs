using InferServer.Kernels.Lora;
using InferServer.Engine.Models.Common;
using static TorchSharp.torch;

namespace InferServer.Engine.Tests.Models;

/// <summary>Builds an <see cref="EncoderBatch"/> of whole sequences (token types 0), as the fixtures were computed.</summary>
public static class EncoderTestBatch
{
    /// <summary>Flattens the sequences; <paramref name="lora"/> gives each row's adapter slot when adapters are in play.</summary>
    public static EncoderBatch Of(IReadOnlyList<long[]> sequences, LoraBatch? lora = null)
    {
        var ids = sequences.SelectMany(s => s).ToArray();
        var positions = sequences.SelectMany(s => Enumerable.Range(0, s.Length).Select(p => (long)p)).ToArray();
        var spans = new List<(int, int)>();
        var start = 0;
        foreach (var sequence in sequences)
        {
            spans.Add((start, sequence.Length));
            start += sequence.Length;
        }
        return new EncoderBatch(tensor(ids), tensor(positions), zeros(ids.Length, ScalarType.Int64), spans, lora);
    }
}
