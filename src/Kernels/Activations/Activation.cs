using static TorchSharp.torch;

namespace InferServer.Kernels.Activations;

/// <summary>The activation functions Hugging Face configs name (hidden_act / activation_function).</summary>
public enum ActivationKind
{
    /// <summary>SiLU / swish (Llama-family MLPs).</summary>
    Silu,
    /// <summary>Exact erf GELU ("gelu", BERT).</summary>
    Gelu,
    /// <summary>tanh-approximated GELU ("gelu_new", "gelu_pytorch_tanh", GPT-2).</summary>
    GeluTanh,
    /// <summary>ReLU.</summary>
    Relu,
}

/// <summary>Parses config names and applies the activation.</summary>
public static class Activation
{
    /// <summary>Maps a config's activation name; null when the name is not one we implement.</summary>
    public static ActivationKind? Parse(string name) => name switch
    {
        "silu" or "swish" => ActivationKind.Silu,
        "gelu" => ActivationKind.Gelu,
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => ActivationKind.GeluTanh,
        "relu" => ActivationKind.Relu,
        _ => null,
    };

    /// <summary>Applies the activation elementwise.</summary>
    public static Tensor Apply(Tensor x, ActivationKind kind) => kind switch
    {
        ActivationKind.Silu => nn.functional.silu(x),
        ActivationKind.Gelu => nn.functional.gelu(x),
        ActivationKind.GeluTanh => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        ActivationKind.Relu => nn.functional.relu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown activation"),
    };
}
