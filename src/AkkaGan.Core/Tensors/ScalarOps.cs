using TorchSharp;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tensors;

/// <summary>
/// Tensor arithmetic with .NET numbers that keeps each number's native scalar alive until the native call that reads
/// it returns. TorchSharp 0.107 turns a number into a <see cref="Scalar"/> (an implicit conversion, also inside
/// <c>tensor * 0.5</c>, <c>square()</c>, <c>softplus</c>, <c>leaky_relu</c>) that owns a native scalar through a raw
/// handle and a finalizer, and passes only the handle on: once the handle is read, the Scalar is unreachable, and a
/// garbage collection during the native call may finalize it and free the scalar the call is still reading
/// (dotnet/TorchSharp#1434, #1496). A loaded test run showed it as <c>INTERNAL ASSERT FAILED at c10/core/Scalar.h</c>
/// in a discriminator's gradient norm. Here every number becomes a Scalar
/// that a <c>using</c> holds, and disposes, after the call. The operations are the ones TorchSharp's operators call,
/// with a Scalar of the same type, so results are bit for bit those of the operators.
/// </summary>
/// <remarks>AkkaGan's tensor code uses these instead of tensor-number operators; a spec scans the compiled Core for
/// calls that create Scalars implicitly.</remarks>
public static class ScalarOps
{
    /// <summary>
    /// The alpha of <c>add</c>: TorchSharp's <c>add(other)</c> and <c>add(scalar)</c> (and so <c>a + b</c> on tensors) call
    /// <c>add(other, 1)</c>, converting the 1 inside. A static field is never finalized.
    /// </summary>
    private static readonly Scalar One = 1.ToScalar();

    /// <summary><c>t * v</c>.</summary>
    public static Tensor Mul(this Tensor t, double v) { using var s = v.ToScalar(); return t.mul(s); }

    /// <inheritdoc cref="Mul(Tensor, double)"/>
    public static Tensor Mul(this Tensor t, float v) { using var s = v.ToScalar(); return t.mul(s); }

    /// <inheritdoc cref="Mul(Tensor, double)"/>
    public static Tensor Mul(this Tensor t, int v) { using var s = v.ToScalar(); return t.mul(s); }

    /// <summary><c>t *= v</c>.</summary>
    public static Tensor MulInPlace(this Tensor t, double v) { using var s = v.ToScalar(); return t.mul_(s); }

    /// <summary><c>t + v</c>.</summary>
    public static Tensor Add(this Tensor t, double v) { using var s = v.ToScalar(); return t.add(s, One); }

    /// <inheritdoc cref="Add(Tensor, double)"/>
    public static Tensor Add(this Tensor t, int v) { using var s = v.ToScalar(); return t.add(s, One); }

    /// <summary><c>t += v</c>.</summary>
    public static Tensor AddInPlace(this Tensor t, double v) { using var s = v.ToScalar(); return t.add_(s, One); }

    /// <summary><c>t.add_(v)</c> (an integer tensor stays exact).</summary>
    public static Tensor AddInPlace(this Tensor t, long v) { using var s = v.ToScalar(); return t.add_(s, One); }

    /// <summary><c>t + other</c>, both tensors.</summary>
    public static Tensor Plus(this Tensor t, Tensor other) => t.add(other, One);

    /// <summary><c>t += alpha * other</c>.</summary>
    public static Tensor AddInPlace(this Tensor t, Tensor other, double alpha) { using var s = alpha.ToScalar(); return t.add_(other, s); }

    /// <summary><c>t - v</c>.</summary>
    public static Tensor Sub(this Tensor t, int v) { using var s = v.ToScalar(); return t.sub(s); }

    /// <inheritdoc cref="Sub(Tensor, int)"/>
    public static Tensor Sub(this Tensor t, double v) { using var s = v.ToScalar(); return t.sub(s); }

    /// <summary><c>v - t</c> (as TorchSharp's operator computes it: <c>-t + v</c>).</summary>
    public static Tensor SubtractedFrom(this Tensor t, int v) { using var s = v.ToScalar(); using var negative = t.negative(); return negative.add(s, One); }

    /// <summary><c>t / v</c>.</summary>
    public static Tensor Div(this Tensor t, double v) { using var s = v.ToScalar(); return t.div(s); }

    /// <inheritdoc cref="Div(Tensor, double)"/>
    public static Tensor Div(this Tensor t, int v) { using var s = v.ToScalar(); return t.div(s); }

    /// <inheritdoc cref="Div(Tensor, double)"/>
    public static Tensor Div(this Tensor t, long v) { using var s = v.ToScalar(); return t.div(s); }

    /// <summary><c>t /= v</c>.</summary>
    public static Tensor DivInPlace(this Tensor t, float v) { using var s = v.ToScalar(); return t.div_(s); }

    /// <summary><c>t -= v</c>.</summary>
    public static Tensor SubInPlace(this Tensor t, float v) { using var s = v.ToScalar(); return t.sub_(s); }

    /// <summary><c>floor(t / v)</c>.</summary>
    public static Tensor FloorDiv(this Tensor t, int v) { using var s = v.ToScalar(); return t.div(s, rounding_mode: RoundingMode.floor); }

    /// <summary><c>t^2</c> (TorchSharp's <c>square()</c>: <c>pow(2)</c>).</summary>
    public static Tensor Square(this Tensor t) { using var two = 2.ToScalar(); return t.pow(two); }

    /// <summary><c>max(t, min)</c>.</summary>
    public static Tensor ClampMin(this Tensor t, double min) { using var s = min.ToScalar(); return t.clamp_min(s); }

    /// <inheritdoc cref="ClampMin(Tensor, double)"/>
    public static Tensor ClampMin(this Tensor t, int min) { using var s = min.ToScalar(); return t.clamp_min(s); }

    /// <summary><c>min(t, max)</c>.</summary>
    public static Tensor ClampMax(this Tensor t, double max) { using var s = max.ToScalar(); return t.clamp_max(s); }

    /// <summary><c>min(max(t, min), max)</c>.</summary>
    public static Tensor Clamp(this Tensor t, double min, double max)
    {
        using var lo = min.ToScalar();
        using var hi = max.ToScalar();
        return t.clamp(lo, hi);
    }

    /// <summary>Clamps <paramref name="t"/> in place to [min, max].</summary>
    public static Tensor ClampInPlace(this Tensor t, double min, double max)
    {
        using var lo = min.ToScalar();
        using var hi = max.ToScalar();
        return t.clamp_(lo, hi);
    }

    /// <summary><c>t += value * a * b</c>.</summary>
    public static Tensor AddcmulInPlace(this Tensor t, Tensor a, Tensor b, double value) { using var s = value.ToScalar(); return t.addcmul_(a, b, s); }

    /// <summary><c>t + value * a / b</c>.</summary>
    public static Tensor Addcdiv(this Tensor t, Tensor a, Tensor b, double value) { using var s = value.ToScalar(); return t.addcdiv(a, b, s); }

    /// <summary><c>t += value * a / b</c>.</summary>
    public static Tensor AddcdivInPlace(this Tensor t, Tensor a, Tensor b, double value) { using var s = value.ToScalar(); return t.addcdiv_(a, b, s); }

    /// <summary>Leaky ReLU with <paramref name="negativeSlope"/> (<c>nn.functional.leaky_relu</c>).</summary>
    public static Tensor LeakyRelu(this Tensor t, double negativeSlope) { using var s = negativeSlope.ToScalar(); return t.leaky_relu(s); }

    /// <summary><c>t &gt; v</c>, elementwise.</summary>
    public static Tensor Greater(this Tensor t, double v) { using var s = v.ToScalar(); return t.gt(s); }

    /// <summary><c>t &lt; v</c>, elementwise.</summary>
    public static Tensor Less(this Tensor t, double v) { using var s = v.ToScalar(); return t.lt(s); }

    /// <summary><c>t mod v</c>, elementwise.</summary>
    public static Tensor Remainder(this Tensor t, int v) { using var s = v.ToScalar(); return t.remainder(s); }

    /// <summary>
    /// <c>log(1 + exp(t))</c>, computed as <c>-logsigmoid(-t)</c>: TorchSharp's <c>softplus(beta, threshold)</c> makes
    /// its two Scalars in a private method this code cannot hand kept-alive ones to.
    /// </summary>
    public static Tensor Softplus(this Tensor t)
    {
        using var negative = t.negative();
        using var logSigmoid = nn.functional.logsigmoid(negative);
        return logSigmoid.negative();
    }
}
