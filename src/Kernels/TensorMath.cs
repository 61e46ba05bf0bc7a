using TorchSharp;
using static TorchSharp.torch;

namespace InferServer.Kernels;

/// <summary>
/// Tensor arithmetic with numbers, written so that libtorch never reads a freed Scalar.
/// </summary>
/// <remarks>
/// TorchSharp turns every number it hands libtorch (<c>x * 0.5</c>, <c>x + 1</c>, and the hidden <c>alpha = 1</c> of
/// <c>a + b</c> and <c>add(b)</c>) into a temporary <see cref="Scalar"/> and passes only its native handle. Nothing roots the
/// temporary during the native call and DisposeScopes do not track Scalars, so a GC there lets the Scalar's finalizer free
/// it while libtorch reads it: "Expected false to be true ... toFloat" or, silently, a wrong value (upstream
/// dotnet/TorchSharp#1434 and #1496, unmerged). src/BannedSymbols.txt bans those overloads and every implicit conversion
/// into Scalar in src/, and every ToScalar outside this class (an inline <c>x.mul(0.5.ToScalar())</c> has the same
/// hazard); these helpers keep each Scalar alive past its call instead, either rooted for the process
/// (<see cref="One"/>, <see cref="Zero"/>: never collected, so never finalized) or in a <c>using</c> local whose Dispose
/// runs after the call. The same ops run as before (a number stays a Scalar of its kind, so dtype promotion is unchanged).
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("ApiDesign", "RS0030",
    Justification = "The one place that makes Scalars: each lives in a using local past its call, or is rooted for the process.")]
public static class TensorMath
{
    /// <summary>The integer 1 (the alpha TorchSharp passes by default), rooted for the process.</summary>
    public static Scalar One { get; } = 1.ToScalar();

    /// <summary>The integer 0, rooted for the process.</summary>
    public static Scalar Zero { get; } = 0.ToScalar();

    /// <summary>float32 -inf as a rooted Scalar (the logit of a token a structured output forbids).</summary>
    public static Scalar NegativeInfinity { get; } = float.NegativeInfinity.ToScalar();

    /// <summary>a + b (what <c>a + b</c> and <c>a.add(b)</c> compute).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>x + value with an integer Scalar (<c>x + 1</c>): integer tensors stay integer.</summary>
    public static Tensor Plus(this Tensor x, long value) => WithScalar(x, value, static (t, scalar) => t.add(scalar, One));

    /// <summary>x + value with a floating Scalar (<c>x + 1e-6</c>).</summary>
    public static Tensor Plus(this Tensor x, double value) => WithScalar(x, value, static (t, scalar) => t.add(scalar, One));

    /// <summary>x − value with an integer Scalar.</summary>
    public static Tensor Minus(this Tensor x, long value) => WithScalar(x, value, static (t, scalar) => t.sub(scalar));

    /// <summary>x − value with a floating Scalar.</summary>
    public static Tensor Minus(this Tensor x, double value) => WithScalar(x, value, static (t, scalar) => t.sub(scalar));

    /// <summary>x · factor with an integer Scalar.</summary>
    public static Tensor Times(this Tensor x, long factor) => WithScalar(x, factor, static (t, scalar) => t.mul(scalar));

    /// <summary>x · factor with a floating Scalar (<c>x * 0.5</c>; float32 stays float32).</summary>
    public static Tensor Times(this Tensor x, double factor) => WithScalar(x, factor, static (t, scalar) => t.mul(scalar));

    /// <summary>x ·= factor in place.</summary>
    public static Tensor TimesInPlace(this Tensor x, double factor) => WithScalar(x, factor, static (t, scalar) => t.mul_(scalar));

    /// <summary>x / divisor with an integer Scalar (true division).</summary>
    public static Tensor DividedBy(this Tensor x, long divisor) => WithScalar(x, divisor, static (t, scalar) => t.div(scalar));

    /// <summary>x / divisor with a floating Scalar.</summary>
    public static Tensor DividedBy(this Tensor x, double divisor) => WithScalar(x, divisor, static (t, scalar) => t.div(scalar));

    /// <summary>x to an integer power (<c>x.pow(2)</c>).</summary>
    public static Tensor Power(this Tensor x, long exponent) => WithScalar(x, exponent, static (t, scalar) => t.pow(scalar));

    /// <summary><c>torch.arange(start, stop, step)</c> with integer Scalars, as the literal call makes.</summary>
    public static Tensor Range(long start, long stop, long step, ScalarType? dtype = null, Device? device = null)
    {
        using var first = start.ToScalar();
        using var end = stop.ToScalar();
        using var increment = step.ToScalar();
        return arange(first, end, increment, dtype, device);
    }

    /// <summary>x &gt; value, elementwise (<c>x.gt(value)</c>).</summary>
    public static Tensor IsGreaterThan(this Tensor x, double value) => WithScalar(x, value, static (t, scalar) => t.gt(scalar));

    /// <summary>x ≥ value, elementwise (<c>x.ge(value)</c>).</summary>
    public static Tensor IsAtLeast(this Tensor x, double value) => WithScalar(x, value, static (t, scalar) => t.ge(scalar));

    /// <summary>x ≤ value, elementwise (<c>x.le(value)</c>).</summary>
    public static Tensor IsAtMost(this Tensor x, double value) => WithScalar(x, value, static (t, scalar) => t.le(scalar));

    // One Scalar for one call: made, passed, then disposed here, never left to the finalizer. The lambdas are static, so
    // no closure is allocated per call.
    private static Tensor WithScalar(Tensor x, long value, Func<Tensor, Scalar, Tensor> op)
    {
        using var scalar = value.ToScalar();
        return op(x, scalar);
    }

    private static Tensor WithScalar(Tensor x, double value, Func<Tensor, Scalar, Tensor> op)
    {
        using var scalar = value.ToScalar();
        return op(x, scalar);
    }
}
