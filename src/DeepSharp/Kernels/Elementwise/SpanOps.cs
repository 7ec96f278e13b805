using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// An elementwise function over spans of float32 or float64, named once for both (<c>Unary&lt;ExpOp&gt;("exp", x)</c>):
/// a thin forward to the TensorPrimitives operator of the same name, which has the scalar and vector paths.
/// </summary>
internal interface IFloatSpanFunction
{
    static abstract void Apply<T>(ReadOnlySpan<T> x, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>A binary elementwise function over spans, with scalar-operand forms for broadcasting.</summary>
internal interface IBinarySpanOp<T>
{
    void Apply(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst);
    void Apply(ReadOnlySpan<T> x, T y, Span<T> dst);
    void Apply(T x, ReadOnlySpan<T> y, Span<T> dst);
}

// Arithmetic: thin adapters over TensorPrimitives, which is already vectorised for every width.

internal readonly struct AddOp<T> : IBinarySpanOp<T> where T : unmanaged, INumber<T>
{
    public void Apply(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Add(x, y, dst);
    public void Apply(ReadOnlySpan<T> x, T y, Span<T> dst) => TensorPrimitives.Add(x, y, dst);
    public void Apply(T x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Add(y, x, dst);
}

internal readonly struct SubOp<T> : IBinarySpanOp<T> where T : unmanaged, INumber<T>
{
    public void Apply(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Subtract(x, y, dst);
    public void Apply(ReadOnlySpan<T> x, T y, Span<T> dst) => TensorPrimitives.Subtract(x, y, dst);
    public void Apply(T x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Subtract(x, y, dst);
}

internal readonly struct MulOp<T> : IBinarySpanOp<T> where T : unmanaged, INumber<T>
{
    public void Apply(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Multiply(x, y, dst);
    public void Apply(ReadOnlySpan<T> x, T y, Span<T> dst) => TensorPrimitives.Multiply(x, y, dst);
    public void Apply(T x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Multiply(y, x, dst);
}

internal readonly struct DivOp<T> : IBinarySpanOp<T> where T : unmanaged, INumber<T>
{
    public void Apply(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Divide(x, y, dst);
    public void Apply(ReadOnlySpan<T> x, T y, Span<T> dst) => TensorPrimitives.Divide(x, y, dst);
    public void Apply(T x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Divide(x, y, dst);
}

internal readonly struct MaxOp<T> : IBinarySpanOp<T> where T : unmanaged, INumber<T>
{
    public void Apply(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Max(x, y, dst);
    public void Apply(ReadOnlySpan<T> x, T y, Span<T> dst) => TensorPrimitives.Max(x, y, dst);
    public void Apply(T x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Max(y, x, dst);
}

internal readonly struct MinOp<T> : IBinarySpanOp<T> where T : unmanaged, INumber<T>
{
    public void Apply(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Min(x, y, dst);
    public void Apply(ReadOnlySpan<T> x, T y, Span<T> dst) => TensorPrimitives.Min(x, y, dst);
    public void Apply(T x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Min(y, x, dst);
}

internal readonly struct PowOp<T> : IBinarySpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Apply(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Pow(x, y, dst);
    public void Apply(ReadOnlySpan<T> x, T y, Span<T> dst)
    {
        // Small integral exponents are exact products (pow(x,2) must equal x*x, also for negative x).
        if (y == T.CreateTruncating(2)) TensorPrimitives.Multiply(x, x, dst);
        else if (y == T.One) x.CopyTo(dst);
        else if (y == T.CreateTruncating(3))
        {
            for (int i = 0; i < x.Length; i++) dst[i] = x[i] * x[i] * x[i];
        }
        else if (y == T.CreateTruncating(0.5)) TensorPrimitives.Sqrt(x, dst);
        else if (y == T.CreateTruncating(-1)) TensorPrimitives.Reciprocal(x, dst);
        else TensorPrimitives.Pow(x, y, dst);
    }
    public void Apply(T x, ReadOnlySpan<T> y, Span<T> dst) => TensorPrimitives.Pow(x, y, dst);
}
