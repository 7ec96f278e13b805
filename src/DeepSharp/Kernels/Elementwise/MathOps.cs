using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace DeepSharp.Kernels;

// Unary math over spans, forwarding to TensorPrimitives (vectorised for float and double), each named once for
// both element types: Unary<ExpOp>("exp", x).

internal readonly struct ExpOp : IFloatSpanFunction
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Exp(x, dst);
}

internal readonly struct LogOp : IFloatSpanFunction
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Log(x, dst);
}

internal readonly struct Log1pOp : IFloatSpanFunction
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.LogP1(x, dst);
}

internal readonly struct SqrtOp : IFloatSpanFunction
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sqrt(x, dst);
}

internal readonly struct RsqrtOp : IFloatSpanFunction
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.ReciprocalSqrt(x, dst);
}

internal readonly struct SinOp : IFloatSpanFunction
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sin(x, dst);
}

internal readonly struct CosOp : IFloatSpanFunction
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Cos(x, dst);
}

internal readonly struct TanhOp : IFloatSpanFunction
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Tanh(x, dst);
}

internal readonly struct SigmoidOp : IFloatSpanFunction
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sigmoid(x, dst);
}

internal readonly struct ExpM1Op : IFloatSpanFunction
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.ExpM1(x, dst);
}

// Functions without a TensorPrimitives form, written once against ISimd (scalar and vector paths).

/// <summary>|x|.</summary>
internal readonly struct AbsOp : IFloatUnaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> => S.Abs(x);
}

/// <summary>-1, 0 or 1; keeps 0 and NaN.</summary>
internal readonly struct SignOp : IFloatUnaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Select(S.GreaterThan(x, S.Zero), S.Splat(T.One), S.Select(S.GreaterThan(S.Zero, x), S.Splat(-T.One), x));
}

/// <summary>min(max(x, lo), hi) with p = lo, q = hi; NaN stays NaN.</summary>
internal readonly struct ClampOp : IFloatUnaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV lo, TV hi) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> => S.Min(S.Max(x, lo), hi);
}

/// <summary>erf x, from <see cref="SpecialFunctions.Erf"/> in double (float32 rounded once); lane by lane in vectors.</summary>
internal readonly struct ErfOp : IFloatUnaryFunction
{
    public static TV Invoke<TV, S, T>(TV x, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        Lanes.IsScalar<TV, T>()
            ? Lanes.FromDouble<TV, T>(SpecialFunctions.Erf(Lanes.ToDouble<TV, T>(x)))
            : Lanes.Each<TV, S, T, ErfOp>(x, p, q);
}

/// <summary>Error function in double precision, used by exact GELU and the normal CDF.</summary>
internal static class SpecialFunctions
{
    private const double TwoOverSqrtPi = 1.1283791670955126;

    /// <summary>
    /// erf(x): for |x| &lt; 3 the all-positive series 2/sqrt(pi) e^{-x^2} sum 2^n x^{2n+1}/(2n+1)!!
    /// (no cancellation); beyond that 1 - erfc(x) with erfc from its continued fraction.
    /// Accurate to a few ulp over the real line.
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax >= 6) return Math.Sign(x);
        if (ax < 3)
        {
            double x2 = x * x, term = x, sum = x;
            for (int n = 1; n < 200; n++)
            {
                term *= 2 * x2 / (2 * n + 1);
                sum += term;
                if (Math.Abs(term) < 1e-17 * Math.Abs(sum)) break;
            }
            return TwoOverSqrtPi * Math.Exp(-x2) * sum;
        }
        return Math.Sign(x) * (1 - Erfc(ax));
    }

    /// <summary>erfc for x &gt;= 3 by the modified Lentz evaluation of the continued fraction
    /// erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).</summary>
    private static double Erfc(double x)
    {
        const double Tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 500; n++)
        {
            double an = n / 2.0;
            d = x + an * d;
            d = Math.Abs(d) < Tiny ? Tiny : d;
            c = x + an / c;
            c = Math.Abs(c) < Tiny ? Tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Exp(-x * x) / (Math.Sqrt(Math.PI) * f);
    }
}
