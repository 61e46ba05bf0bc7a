namespace InferServer.Kernels.Rotary;

/// <summary>
/// The rope_scaling variants we implement (transformers' modeling_rope_utils): "linear" divides every frequency by
/// <see cref="Factor"/>; "llama3" (Llama 3.1) divides low frequencies by the factor, keeps high ones, and blends between.
/// </summary>
public sealed record RopeScaling(
    string Type,
    double Factor,
    double LowFrequencyFactor = 1,
    double HighFrequencyFactor = 4,
    int OriginalMaxPositionEmbeddings = 8192);
