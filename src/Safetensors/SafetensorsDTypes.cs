using TorchSharp;

namespace InferServer.Safetensors;

/// <summary>Maps safetensors dtypes to their header spelling, element size and TorchSharp type.</summary>
internal static class SafetensorsDTypes
{
    public static int ElementSize(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.I16 => 2,
        SafetensorsDType.I8 or SafetensorsDType.U8 or SafetensorsDType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown safetensors dtype."),
    };

    public static torch.ScalarType ToScalarType(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F32 => torch.ScalarType.Float32,
        SafetensorsDType.F16 => torch.ScalarType.Float16,
        SafetensorsDType.BF16 => torch.ScalarType.BFloat16,
        SafetensorsDType.F64 => torch.ScalarType.Float64,
        SafetensorsDType.I64 => torch.ScalarType.Int64,
        SafetensorsDType.I32 => torch.ScalarType.Int32,
        SafetensorsDType.I16 => torch.ScalarType.Int16,
        SafetensorsDType.I8 => torch.ScalarType.Int8,
        SafetensorsDType.U8 => torch.ScalarType.Byte,
        SafetensorsDType.BOOL => torch.ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown safetensors dtype."),
    };

    public static bool TryFromScalarType(torch.ScalarType scalarType, out SafetensorsDType dtype)
    {
        (var known, dtype) = scalarType switch
        {
            torch.ScalarType.Float32 => (true, SafetensorsDType.F32),
            torch.ScalarType.Float16 => (true, SafetensorsDType.F16),
            torch.ScalarType.BFloat16 => (true, SafetensorsDType.BF16),
            torch.ScalarType.Float64 => (true, SafetensorsDType.F64),
            torch.ScalarType.Int64 => (true, SafetensorsDType.I64),
            torch.ScalarType.Int32 => (true, SafetensorsDType.I32),
            torch.ScalarType.Int16 => (true, SafetensorsDType.I16),
            torch.ScalarType.Int8 => (true, SafetensorsDType.I8),
            torch.ScalarType.Byte => (true, SafetensorsDType.U8),
            torch.ScalarType.Bool => (true, SafetensorsDType.BOOL),
            _ => (false, default),
        };
        return known;
    }

    /// <summary>Parses the header spelling; exact and case-sensitive, as the reference implementation's serde enum.</summary>
    public static bool TryParse(string text, out SafetensorsDType dtype)
    {
        (var known, dtype) = text switch
        {
            "F32" => (true, SafetensorsDType.F32),
            "F16" => (true, SafetensorsDType.F16),
            "BF16" => (true, SafetensorsDType.BF16),
            "F64" => (true, SafetensorsDType.F64),
            "I64" => (true, SafetensorsDType.I64),
            "I32" => (true, SafetensorsDType.I32),
            "I16" => (true, SafetensorsDType.I16),
            "I8" => (true, SafetensorsDType.I8),
            "U8" => (true, SafetensorsDType.U8),
            "BOOL" => (true, SafetensorsDType.BOOL),
            _ => (false, default),
        };
        return known;
    }

    /// <summary>The header spelling; the enum member names were chosen to equal it.</summary>
    public static string ToHeaderString(this SafetensorsDType dtype) => dtype.ToString();
}
