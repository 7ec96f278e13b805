using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

// Unary math over spans, forwarding to TensorPrimitives (vectorised for float and double).

internal readonly struct ExpOp<T> : IUnarySpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst) => TensorPrimitives.Exp(x, dst);
}

internal readonly struct LogOp<T> : IUnarySpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst) => TensorPrimitives.Log(x, dst);
}

internal readonly struct Log1pOp<T> : IUnarySpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst) => TensorPrimitives.LogP1(x, dst);
}

internal readonly struct SqrtOp<T> : IUnarySpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst) => TensorPrimitives.Sqrt(x, dst);
}

internal readonly struct RsqrtOp<T> : IUnarySpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst) => TensorPrimitives.ReciprocalSqrt(x, dst);
}

internal readonly struct AbsOp<T> : IUnarySpanOp<T> where T : unmanaged, INumber<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst) => TensorPrimitives.Abs(x, dst);
}

internal readonly struct SinOp<T> : IUnarySpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst) => TensorPrimitives.Sin(x, dst);
}

internal readonly struct CosOp<T> : IUnarySpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst) => TensorPrimitives.Cos(x, dst);
}

internal readonly struct TanhOp<T> : IUnarySpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst) => TensorPrimitives.Tanh(x, dst);
}

internal readonly struct SigmoidOp<T> : IUnarySpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst) => TensorPrimitives.Sigmoid(x, dst);
}

internal readonly struct ExpM1Op<T> : IUnarySpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst) => TensorPrimitives.ExpM1(x, dst);
}

internal readonly struct SignOp<T> : IUnarySpanOp<T> where T : unmanaged, INumber<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst)
    {
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i];
            dst[i] = v > T.Zero ? T.One : v < T.Zero ? -T.One : v; // keeps 0 and NaN
        }
    }
}

internal readonly struct ClampOp<T>(T min, T max) : IUnarySpanOp<T> where T : unmanaged, INumber<T>
{
    public void Apply(ReadOnlySpan<T> x, Span<T> dst)
    {
        TensorPrimitives.Max(x, min, dst);
        TensorPrimitives.Min(dst, max, dst);
    }
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
