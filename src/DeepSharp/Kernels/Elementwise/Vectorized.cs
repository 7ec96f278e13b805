using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>An elementwise function with scalar and SIMD forms (the TensorPrimitives operator pattern).</summary>
public interface IUnaryOperator<T> where T : unmanaged
{
    T Invoke(T x);
    Vector512<T> Invoke(Vector512<T> x);
    Vector256<T> Invoke(Vector256<T> x);
}

public interface IBinaryOperator<T> where T : unmanaged
{
    T Invoke(T x, T y);
    Vector512<T> Invoke(Vector512<T> x, Vector512<T> y);
    Vector256<T> Invoke(Vector256<T> x, Vector256<T> y);
}

/// <summary>
/// Drivers that run an operator over spans: Vector512 where the hardware has it, then Vector256,
/// then a scalar tail. Used for fused formulas (activation gradients) that TensorPrimitives lacks.
/// dst may alias an input (same index in, same index out).
/// </summary>
public static class Vectorized
{
    public static void Map<T, TOp>(ReadOnlySpan<T> x, Span<T> dst, TOp op)
        where T : unmanaged where TOp : struct, IUnaryOperator<T>
    {
        if (dst.Length < x.Length) throw new ArgumentException("Map: destination is too short");
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T dr = ref MemoryMarshal.GetReference(dst);
        int n = x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                op.Invoke(Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
        }
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                op.Invoke(Vector256.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref dr, i) = op.Invoke(Unsafe.Add(ref xr, i));
    }

    public static void Map<T, TOp>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst, TOp op)
        where T : unmanaged where TOp : struct, IBinaryOperator<T>
    {
        if (y.Length != x.Length || dst.Length < x.Length) throw new ArgumentException("Map: span lengths differ");
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        ref T dr = ref MemoryMarshal.GetReference(dst);
        int n = x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                op.Invoke(Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
        }
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                op.Invoke(Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref dr, i) = op.Invoke(Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i));
    }
}

/// <summary>Unary operators used by activations (forward).</summary>
public readonly struct LeakyReluOperator<T>(T slope) : IUnaryOperator<T> where T : unmanaged, INumber<T>
{
    public T Invoke(T x) => x > T.Zero ? x : x * slope;
    public Vector512<T> Invoke(Vector512<T> x) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<T>.Zero), x, x * slope);
    public Vector256<T> Invoke(Vector256<T> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<T>.Zero), x, x * slope);
}

/// <summary>Binary operators for gradients: x is the incoming gradient, y the saved value.</summary>
public readonly struct ReluGradOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    // Blocked where y <= 0, passed elsewhere, NaN included (PyTorch's threshold_backward).
    public T Invoke(T g, T y) => y <= T.Zero ? T.Zero : g;
    public Vector512<T> Invoke(Vector512<T> g, Vector512<T> y) => Vector512.ConditionalSelect(Vector512.LessThanOrEqual(y, Vector512<T>.Zero), Vector512<T>.Zero, g);
    public Vector256<T> Invoke(Vector256<T> g, Vector256<T> y) => Vector256.ConditionalSelect(Vector256.LessThanOrEqual(y, Vector256<T>.Zero), Vector256<T>.Zero, g);
}

public readonly struct LeakyReluGradOperator<T>(T slope) : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public T Invoke(T g, T x) => x > T.Zero ? g : g * slope;
    public Vector512<T> Invoke(Vector512<T> g, Vector512<T> x) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<T>.Zero), g, g * slope);
    public Vector256<T> Invoke(Vector256<T> g, Vector256<T> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<T>.Zero), g, g * slope);
}

/// <summary>d sigmoid = g * y * (1 - y), from the saved output y.</summary>
public readonly struct SigmoidGradOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public T Invoke(T g, T y) => g * y * (T.One - y);
    public Vector512<T> Invoke(Vector512<T> g, Vector512<T> y) => g * y * (Vector512<T>.One - y);
    public Vector256<T> Invoke(Vector256<T> g, Vector256<T> y) => g * y * (Vector256<T>.One - y);
}

/// <summary>d tanh = g * (1 - y^2), from the saved output y.</summary>
public readonly struct TanhGradOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public T Invoke(T g, T y) => g * (T.One - y * y);
    public Vector512<T> Invoke(Vector512<T> g, Vector512<T> y) => g * (Vector512<T>.One - y * y);
    public Vector256<T> Invoke(Vector256<T> g, Vector256<T> y) => g * (Vector256<T>.One - y * y);
}

/// <summary>ELU gradient from the saved output y: g for x &gt; 0, else g * (y + alpha).</summary>
public readonly struct EluGradOperator<T>(T alpha) : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public T Invoke(T g, T y) => y > T.Zero ? g : g * (y + alpha);
    public Vector512<T> Invoke(Vector512<T> g, Vector512<T> y) => Vector512.ConditionalSelect(Vector512.GreaterThan(y, Vector512<T>.Zero), g, g * (y + Vector512.Create(alpha)));
    public Vector256<T> Invoke(Vector256<T> g, Vector256<T> y) => Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<T>.Zero), g, g * (y + Vector256.Create(alpha)));
}
