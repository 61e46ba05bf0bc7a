using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Common;

/// <summary>Where and in which precision a base model is loaded.</summary>
public sealed record ModelLoadOptions(Device Device, ScalarType DType)
{
    /// <summary>float32 on the CPU.</summary>
    public static ModelLoadOptions Cpu { get; } = new(CPU, ScalarType.Float32);

    /// <summary>
    /// Whether CPU weights ask for 2 MiB transparent huge pages before the loader writes them (faster decode: see
    /// <see cref="Kernels.Memory.HugePages"/>); the engine then collapses what is still on small pages (Engine:HugePages).
    /// </summary>
    public bool HugePages { get; init; } = true;

    /// <summary>A frozen (requires_grad false) parameter of the model's dtype and device, filled by the loader.</summary>
    internal Parameter NewParameter(params long[] shape)
    {
        var storage = empty(shape, DType, Device);
        if (HugePages)
        {
            Kernels.Memory.HugePages.Advise(storage); // before the first write, so the pages fault in huge
        }

        return new(storage, requires_grad: false);
    }

    /// <summary>Parses the dtype names configs and the command line use.</summary>
    public static ScalarType ParseDType(string name) => name.ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" or "half" => ScalarType.Float16,
        _ => throw new ArgumentException($"unsupported dtype '{name}': use float32, bfloat16 or float16"),
    };
}
