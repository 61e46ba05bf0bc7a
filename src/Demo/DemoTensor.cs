namespace InferServer.Demo;

/// <summary>One checkpoint tensor of a demo model: its Hugging Face key, its shape as stored, and how it is drawn.</summary>
internal sealed record DemoTensor(string Key, long[] Shape, double Mean, double Std)
{
    /// <summary>A weight or embedding drawn like transformers' _init_weights: normal(0, initializer_range = 0.02).</summary>
    public static DemoTensor Weight(string key, params long[] shape) => new(key, shape, 0, 0.02);

    /// <summary>
    /// A query or key projection drawn with std 1/sqrt(in) (LeCun), so that q·k/sqrt(d) is of order one. With 0.02 the
    /// attention of these tiny models is almost uniform, and positions (RoPE, its scaling) and the causal mask would
    /// barely show in the outputs, leaving the reference tests blind to them.
    /// </summary>
    public static DemoTensor QueryKey(string key, long outFeatures, long inFeatures) => new(key, [outFeatures, inFeatures], 0, 1 / Math.Sqrt(inFeatures));

    /// <summary>
    /// A norm's scale: 1 plus noise rather than transformers' exact 1, so that a norm applied with the wrong weight
    /// (or none) changes the outputs and the reference tests notice.
    /// </summary>
    public static DemoTensor NormScale(string key, long size) => new(key, [size], 1, 0.02);

    /// <summary>A bias, small but non-zero for the same reason.</summary>
    public static DemoTensor Bias(string key, long size) => new(key, [size], 0, 0.02);
}
