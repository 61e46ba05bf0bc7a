using InferServer.Kernels.Lora;
using static TorchSharp.torch;

namespace InferServer.AdapterStore;

/// <summary>
/// One linear projection of the served base model that adapters may target, as the store sees it (the server's
/// models implement it), so the store can attach slot pools and merged weights without depending on model code.
/// Only the engine thread calls the setters, between steps.
/// </summary>
public interface ILoraTarget
{
    /// <summary>Input features.</summary>
    long InFeatures { get; }

    /// <summary>Output features.</summary>
    long OutFeatures { get; }

    /// <summary>The frozen base weight W0, [out, in] (never modified).</summary>
    Tensor Weight { get; }

    /// <summary>The device slot pool for this module; null until some adapter targets it.</summary>
    LoraSlotPool? Pool { get; set; }

    /// <summary>Use <paramref name="merged"/> (W0 + s·B·A, owned by the caller) instead of W0; null restores W0.</summary>
    void SetMergedWeight(Tensor? merged);
}
