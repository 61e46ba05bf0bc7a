namespace InferServer.Safetensors;

/// <summary>
/// One tensor's header entry. <see cref="DataBegin"/> and <see cref="DataEnd"/> are byte offsets relative to the start of
/// the data buffer (the byte after the header), as in the file.
/// </summary>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, long[] Shape, long DataBegin, long DataEnd)
{
    public long ByteLength => DataEnd - DataBegin;
}
