using System.Numerics;
using System.Runtime.CompilerServices;

namespace DeepSharp.Kernels;

/// <summary>
/// float32 GELU forward and backward at every vector width (exact/erf and tanh forms), within about 1e-6 relative
/// of the float64 formula; float64 GELU computes the exact formula in double, lane by lane (<see cref="GeluErf"/> and
/// the other functions at the end of this file name both for Tensor.Gelu).
/// <code>
/// erf:  gelu(x) = x Phi(x),  Phi(x) = 1 - erfc(|x|/sqrt2)/2 for x &gt;= 0, erfc(|x|/sqrt2)/2 otherwise
///       gelu'(x) = Phi(x) + x phi(x),  phi(x) = exp(-x^2/2)/sqrt(2 pi)
/// tanh: gelu(x) = x/2 (1 + tanh u) = x sigmoid(2u),  2u = 2 sqrt(2/pi) (x + 0.044715 x^3)
///       gelu'(x) = s + x s (1 - s) 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2),  s = sigmoid(2u)
/// </code>
/// The negative side uses erfc (and 1/(1 + e^-2u)) directly, so small values keep their relative accuracy
/// instead of cancelling in 1 + erf(x) or 1 + tanh(u). gelu(-inf) is NaN (-inf * 0), as PyTorch.
/// </summary>
internal static class GeluKernels
{
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, bool tanh)
    {
        if (tanh) Vectorized.Map(x, y, default(GeluTanhOperator));
        else Vectorized.Map(x, y, default(GeluErfOperator));
    }

    /// <summary>dx = g * gelu'(x).</summary>
    public static void Backward(ReadOnlySpan<float> g, ReadOnlySpan<float> x, Span<float> dx, bool tanh)
    {
        if (tanh) Vectorized.Map(g, x, dx, default(GeluTanhGradOperator));
        else Vectorized.Map(g, x, dx, default(GeluErfGradOperator));
    }
}

/// <summary>Vector float32 elementary functions built from <see cref="ISimd{TV, T}"/> arithmetic.</summary>
internal static class SimdMath
{
    private const float RoundMagic = 12582912f; // 1.5 * 2^23: adding and subtracting it rounds to an integer
    private const float ExpHi = 88.37626f;      // largest x whose 2^n scaling stays in range (n <= 127)
    private const float Overflow = 88.72284f;   // ln(float.MaxValue)
    private const float ExpLo = -87.33654f;     // ln(float smallest normal); below, the result flushes to 0

    /// <summary>
    /// e^x (Cephes expf: x = n ln2 + r with |r| &lt;= ln2/2 by a two-part ln2, e^r by a degree-7 polynomial,
    /// then scaled by 2^n), within 2 ulp over [-87.3, 88.4]; +inf above ln(float.MaxValue), 0 below the smallest
    /// normal (subnormal results are flushed), NaN for NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<TV, S>(TV x) where S : ISimd<TV, float>
    {
        TV xc = S.Min(S.Max(x, S.Splat(ExpLo)), S.Splat(ExpHi));
        TV n = S.Sub(S.Fma(xc, S.Splat(1.44269504088896341f), S.Splat(RoundMagic)), S.Splat(RoundMagic));
        TV r = S.Fma(n, S.Splat(-0.693359375f), xc);
        r = S.Fma(n, S.Splat(2.12194440e-4f), r);
        TV e = Scaled<TV, S>(r, n);
        e = S.Select(S.GreaterThan(x, S.Splat(Overflow)), S.Splat(float.PositiveInfinity), e);
        return S.Select(S.GreaterThan(S.Splat(ExpLo), x), S.Zero, e);
    }

    /// <summary>e^r 2^n for the reduced argument r (|r| &lt;= ln2/2): 1 + r + r² p(r) with a degree-5 polynomial, scaled by 2^n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Scaled<TV, S>(TV r, TV n) where S : ISimd<TV, float>
    {
        TV p = S.Splat(1.9875691500e-4f);
        p = S.Fma(p, r, S.Splat(1.3981999507e-3f));
        p = S.Fma(p, r, S.Splat(8.3334519073e-3f));
        p = S.Fma(p, r, S.Splat(4.1665795894e-2f));
        p = S.Fma(p, r, S.Splat(1.6666665459e-1f));
        p = S.Fma(p, r, S.Splat(5.0000001201e-1f));
        return S.Mul(S.Fma(p, S.Mul(r, r), S.Add(r, S.Splat(1f))), S.Pow2(n));
    }

    /// <summary>
    /// e^(a + b) for a + b &lt;= 0 without rounding a + b first: the reduction takes n from a + b but subtracts
    /// n ln2 from a alone, then adds b, so a large exact a (such as -x*x/2) keeps every bit. 0 below the smallest
    /// normal.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ExpSum<TV, S>(TV a, TV b) where S : ISimd<TV, float>
    {
        TV sum = S.Add(a, b);
        TV xc = S.Min(S.Max(sum, S.Splat(ExpLo)), S.Splat(ExpHi));
        TV n = S.Sub(S.Fma(xc, S.Splat(1.44269504088896341f), S.Splat(RoundMagic)), S.Splat(RoundMagic));
        TV r = S.Fma(n, S.Splat(-0.693359375f), a);
        r = S.Add(S.Fma(n, S.Splat(2.12194440e-4f), r), b);
        TV e = Scaled<TV, S>(r, n);
        return S.Select(S.GreaterThan(S.Splat(ExpLo), sum), S.Zero, e);
    }

    /// <summary>
    /// The standard normal CDF at -|x|: erfc(|x|/sqrt2)/2, with the
    /// Chebyshev fit erfc(z) = t exp(-z^2 + P(t)), t = 1/(1 + z/2) (relative error below 1.2e-7 for all z &gt;= 0).
    /// z^2 = x^2/2 is carried as x*x plus its exact rounding error, so the exponent stays accurate for large |x|.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV NormalTail<TV, S>(TV x, out TV minusHalfSquareHi, out TV minusHalfSquareLo) where S : ISimd<TV, float>
    {
        x = S.Min(S.Max(x, S.Splat(-20f)), S.Splat(20f)); // the tail is 0 in float long before; keeps x*x finite
        TV a = S.Abs(x);
        TV t = S.Div(S.Splat(1f), S.Fma(a, S.Splat(0.35355339059327373f), S.Splat(1f))); // z/2 = |x|/(2 sqrt2)
        TV p = S.Splat(0.17087277f);
        p = S.Fma(p, t, S.Splat(-0.82215223f));
        p = S.Fma(p, t, S.Splat(1.48851587f));
        p = S.Fma(p, t, S.Splat(-1.13520398f));
        p = S.Fma(p, t, S.Splat(0.27886807f));
        p = S.Fma(p, t, S.Splat(-0.18628806f));
        p = S.Fma(p, t, S.Splat(0.09678418f));
        p = S.Fma(p, t, S.Splat(0.37409196f));
        p = S.Fma(p, t, S.Splat(1.00002368f));
        p = S.Fma(p, t, S.Splat(-1.26551223f));
        TV hi = S.Mul(x, x);
        TV lo = SquareError<TV, S>(x, hi);
        minusHalfSquareHi = S.Mul(hi, S.Splat(-0.5f)); // exact
        minusHalfSquareLo = S.Mul(lo, S.Splat(-0.5f));
        return S.Mul(S.Mul(t, ExpSum<TV, S>(minusHalfSquareHi, S.Add(p, minusHalfSquareLo))), S.Splat(0.5f));
    }

    /// <summary>x*x - hi exactly, for hi = x*x rounded: one FMA, or Dekker's split where FMA is not fused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV SquareError<TV, S>(TV x, TV hi) where S : ISimd<TV, float>
    {
        if (FmaSupport.IsFused) return S.Fma(x, x, S.Neg(hi));
        TV c = S.Mul(x, S.Splat(4097f)); // 2^12 + 1 splits a 24-bit significand into two 12-bit halves
        TV xh = S.Sub(c, S.Sub(c, x));
        TV xl = S.Sub(x, xh);
        return S.Add(S.Add(S.Sub(S.Mul(xh, xh), hi), S.Mul(S.Add(xh, xh), xl)), S.Mul(xl, xl));
    }

    /// <summary>Phi(x), the standard normal CDF, from the tail at -|x|.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV NormalCdf<TV, S>(TV x, out TV minusHalfSquareHi, out TV minusHalfSquareLo) where S : ISimd<TV, float>
    {
        TV tail = NormalTail<TV, S>(x, out minusHalfSquareHi, out minusHalfSquareLo);
        return S.Select(S.GreaterThan(x, S.Zero), S.Sub(S.Splat(1f), tail), tail);
    }
}

internal readonly struct GeluErfOperator : IUnaryOperator<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, S>(TV x) where S : ISimd<TV, float> => S.Mul(x, SimdMath.NormalCdf<TV, S>(x, out _, out _));
}

internal readonly struct GeluErfGradOperator : IBinaryOperator<float>
{
    private const float InvSqrt2Pi = 0.3989422804014327f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]

    public TV Invoke<TV, S>(TV g, TV x) where S : ISimd<TV, float>
    {
        TV cdf = SimdMath.NormalCdf<TV, S>(x, out TV hi, out TV lo);
        TV pdf = S.Mul(SimdMath.ExpSum<TV, S>(hi, lo), S.Splat(InvSqrt2Pi));
        return S.Mul(g, S.Fma(x, pdf, cdf));
    }
}

internal readonly struct GeluTanhOperator : IUnaryOperator<float>
{
    internal const float TwoK = 1.5957691216057308f; // 2 sqrt(2/pi)
    internal const float TwoKC = TwoK * 0.044715f;

    /// <summary>-2u = -(2k x + 2k c x^3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV MinusTwoU<TV, S>(TV x) where S : ISimd<TV, float> =>
        S.Neg(S.Mul(x, S.Fma(S.Mul(x, x), S.Splat(TwoKC), S.Splat(TwoK))));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]

    public TV Invoke<TV, S>(TV x) where S : ISimd<TV, float> =>
        S.Div(x, S.Add(S.Splat(1f), SimdMath.Exp<TV, S>(MinusTwoU<TV, S>(x))));
}

internal readonly struct GeluTanhGradOperator : IBinaryOperator<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, S>(TV g, TV x) where S : ISimd<TV, float>
    {
        // s = 1/(1 + e^-2u) and 1 - s = 1/(1 + e^2u) each from its own exponential: no cancellation in 1 - s and
        // no inf * 0 when one of them overflows.
        TV minusTwoU = GeluTanhOperator.MinusTwoU<TV, S>(x);
        TV s = S.Div(S.Splat(1f), S.Add(S.Splat(1f), SimdMath.Exp<TV, S>(minusTwoU)));
        TV sn = S.Div(S.Splat(1f), S.Add(S.Splat(1f), SimdMath.Exp<TV, S>(S.Neg(minusTwoU))));
        TV slope = S.Fma(S.Mul(x, x), S.Splat(3 * GeluTanhOperator.TwoKC), S.Splat(GeluTanhOperator.TwoK));
        TV ds = S.Mul(S.Mul(s, sn), slope); // s (1 - s) d(2u)/dx
        return S.Mul(g, S.Fma(x, ds, s));
    }
}

// GELU named once for float32 and float64: the float32 vector operators above, the exact double formula for float64.

/// <summary>x Phi(x).</summary>
internal readonly struct GeluErf : IFloatUnaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Lanes.Float<TV, GeluErfOperator>(x);
        if (!Lanes.IsScalar<TV, T>()) return Lanes.Each<TV, S, T, GeluErf>(x, p, q);
        double v = Lanes.ToDouble<TV, T>(x);
        return Lanes.FromDouble<TV, T>(v * GeluDouble.NormalCdf(v));
    }
}

/// <summary>g (Phi(x) + x phi(x)).</summary>
internal readonly struct GeluErfGrad : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV g, TV x, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Lanes.Float<TV, GeluErfGradOperator>(g, x);
        if (!Lanes.IsScalar<TV, T>()) return Lanes.Each<TV, S, T, GeluErfGrad>(g, x, p, q);
        double v = Lanes.ToDouble<TV, T>(x);
        double d = GeluDouble.NormalCdf(v) + v * Math.Exp(-0.5 * v * v) / Math.Sqrt(2 * Math.PI);
        return Lanes.FromDouble<TV, T>(Lanes.ToDouble<TV, T>(g) * d);
    }
}

/// <summary>x/2 (1 + tanh u), u = sqrt(2/pi)(x + 0.044715 x^3).</summary>
internal readonly struct GeluTanh : IFloatUnaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Lanes.Float<TV, GeluTanhOperator>(x);
        if (!Lanes.IsScalar<TV, T>()) return Lanes.Each<TV, S, T, GeluTanh>(x, p, q);
        double v = Lanes.ToDouble<TV, T>(x);
        return Lanes.FromDouble<TV, T>(0.5 * v * (1 + Math.Tanh(GeluDouble.Inner(v))));
    }
}

/// <summary>g (1/2 (1 + t) + x/2 (1 - t^2) du/dx), t = tanh u.</summary>
internal readonly struct GeluTanhGrad : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV g, TV x, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Lanes.Float<TV, GeluTanhGradOperator>(g, x);
        if (!Lanes.IsScalar<TV, T>()) return Lanes.Each<TV, S, T, GeluTanhGrad>(g, x, p, q);
        double v = Lanes.ToDouble<TV, T>(x);
        double t = Math.Tanh(GeluDouble.Inner(v));
        double d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GeluDouble.K * (1 + 3 * 0.044715 * v * v);
        return Lanes.FromDouble<TV, T>(Lanes.ToDouble<TV, T>(g) * d);
    }
}

/// <summary>The float64 GELU pieces.</summary>
internal static class GeluDouble
{
    public static readonly double K = Math.Sqrt(2 / Math.PI);

    public static double Inner(double v) => K * (v + 0.044715 * v * v * v);

    public static double NormalCdf(double v) => 0.5 * (1 + SpecialFunctions.Erf(v / Math.Sqrt(2)));
}
