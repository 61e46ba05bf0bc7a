namespace InferServer.Safetensors;

/// <summary>
/// Element types of the safetensors format, spelled as in the header's <c>dtype</c> field.
/// </summary>
public enum SafetensorsDType
{
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    BOOL,
}
