using InferServer.Kernels.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels.Tests.Lora;

/// <summary>Seeded weights, adapters and pools small enough that float32 results agree with the float64 reference to 1e-5.</summary>
internal static class LoraTestData
{
    public const long In = 64;
    public const long Out = 48;

    public static Tensor Random(Generator generator, ScalarType dtype, params long[] shape) =>
        torch.randn(shape, dtype: ScalarType.Float32, generator: generator).mul_(0.1).to(dtype);

    /// <summary>A pool whose slot i (1-based) holds an adapter of rank <c>ranks[i - 1]</c> and scale 2/rank (PEFT alpha = 2).</summary>
    public static LoraSlotPool Pool(Generator generator, int maxRank, ScalarType dtype, params int[] ranks)
    {
        var pool = new LoraSlotPool(ranks.Length + 1, maxRank, In, Out, dtype, torch.CPU);
        using var scope = torch.NewDisposeScope();
        for (var slot = 1; slot <= ranks.Length; slot++)
        {
            var rank = ranks[slot - 1];
            pool.Write(slot, Random(generator, ScalarType.Float32, rank, In), Random(generator, ScalarType.Float32, Out, rank), 2.0 / rank);
        }

        return pool;
    }
}
