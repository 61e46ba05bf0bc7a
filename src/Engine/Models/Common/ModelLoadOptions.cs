using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InferServer.Engine.Models.Common;

/// <summary>Where and in which precision a base model is loaded.</summary>
public sealed record ModelLoadOptions(Device Device, ScalarType DType)
{
    /// <summary>float32 on the CPU.</summary>
    public static ModelLoadOptions Cpu { get; } = new(CPU, ScalarType.Float32);

    /// <summary>A frozen (requires_grad false) parameter of the model's dtype and device, filled by the loader.</summary>
    internal Parameter NewParameter(params long[] shape) =>
        new(empty(shape, DType, Device), requires_grad: false);

    /// <summary>Parses the dtype names configs and the command line use.</summary>
    public static ScalarType ParseDType(string name) => name.ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" or "half" => ScalarType.Float16,
        _ => throw new ArgumentException($"unsupported dtype '{name}': use float32, bfloat16 or float16"),
    };
}
