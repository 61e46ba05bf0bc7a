namespace InferServer.Demo.Import;

/// <summary>A float32 weight under its Hugging Face name, row-major.</summary>
public sealed record ImportedTensor(string Name, long[] Shape, float[] Data);
