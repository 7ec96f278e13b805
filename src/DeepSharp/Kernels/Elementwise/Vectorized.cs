using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// An elementwise function written once against <see cref="ISimd{TV, T}"/> (the TensorPrimitives operator
/// pattern): the same formula runs on 512-, 256- and 128-bit vectors and on single elements.
/// </summary>
internal interface IUnaryOperator<T> where T : unmanaged
{
    TV Invoke<TV, S>(TV x) where S : ISimd<TV, T>;
}

internal interface IBinaryOperator<T> where T : unmanaged
{
    TV Invoke<TV, S>(TV x, TV y) where S : ISimd<TV, T>;
}

/// <summary>
/// Drivers that run an operator over spans at the calling thread's vector width, then a scalar tail. Used for
/// fused formulas (activation gradients) that TensorPrimitives lacks. dst may alias an input (same index in,
/// same index out).
/// </summary>
internal static class Vectorized
{
    public static void Map<T, TOp>(ReadOnlySpan<T> x, Span<T> dst, TOp op)
        where T : unmanaged, INumber<T> where TOp : struct, IUnaryOperator<T>
    {
        if (dst.Length < x.Length) throw new ArgumentException("Map: destination is too short");
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T dr = ref MemoryMarshal.GetReference(dst);
        int n = x.Length;
        int i = SimdWidth.Current switch
        {
            512 => Unary<T, TOp, Vector512<T>, Simd512<T>>(ref xr, ref dr, n, op),
            256 => Unary<T, TOp, Vector256<T>, Simd256<T>>(ref xr, ref dr, n, op),
            128 => Unary<T, TOp, Vector128<T>, Simd128<T>>(ref xr, ref dr, n, op),
            _ => 0,
        };
        for (; i < n; i++) Unsafe.Add(ref dr, i) = op.Invoke<T, Simd1<T>>(Unsafe.Add(ref xr, i));
    }

    public static void Map<T, TOp>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst, TOp op)
        where T : unmanaged, INumber<T> where TOp : struct, IBinaryOperator<T>
    {
        if (y.Length != x.Length || dst.Length < x.Length) throw new ArgumentException("Map: span lengths differ");
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        ref T dr = ref MemoryMarshal.GetReference(dst);
        int n = x.Length;
        int i = SimdWidth.Current switch
        {
            512 => Binary<T, TOp, Vector512<T>, Simd512<T>>(ref xr, ref yr, ref dr, n, op),
            256 => Binary<T, TOp, Vector256<T>, Simd256<T>>(ref xr, ref yr, ref dr, n, op),
            128 => Binary<T, TOp, Vector128<T>, Simd128<T>>(ref xr, ref yr, ref dr, n, op),
            _ => 0,
        };
        for (; i < n; i++) Unsafe.Add(ref dr, i) = op.Invoke<T, Simd1<T>>(Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i));
    }

    // Whole vectors from the start; returns where the scalar tail begins.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Unary<T, TOp, TV, S>(ref T x, ref T dst, int n, TOp op)
        where T : unmanaged where TOp : struct, IUnaryOperator<T> where S : ISimd<TV, T>
    {
        int i = 0, w = S.Count;
        for (; i <= n - w; i += w)
            S.Store(op.Invoke<TV, S>(S.Load(ref x, (nuint)i)), ref dst, (nuint)i);
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Binary<T, TOp, TV, S>(ref T x, ref T y, ref T dst, int n, TOp op)
        where T : unmanaged where TOp : struct, IBinaryOperator<T> where S : ISimd<TV, T>
    {
        int i = 0, w = S.Count;
        for (; i <= n - w; i += w)
            S.Store(op.Invoke<TV, S>(S.Load(ref x, (nuint)i), S.Load(ref y, (nuint)i)), ref dst, (nuint)i);
        return i;
    }
}

/// <summary>Unary operators used by activations (forward).</summary>
internal readonly struct LeakyReluOperator<T>(T slope) : IUnaryOperator<T> where T : unmanaged, INumber<T>
{
    public TV Invoke<TV, S>(TV x) where S : ISimd<TV, T> => S.Select(S.GreaterThan(x, S.Zero), x, S.Mul(x, S.Splat(slope)));
}

/// <summary>Binary operators for gradients: x is the incoming gradient, y the saved value.</summary>
internal readonly struct ReluGradOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    // Blocked where y <= 0, passed elsewhere, NaN included (PyTorch's threshold_backward).
    public TV Invoke<TV, S>(TV g, TV y) where S : ISimd<TV, T> => S.Select(S.LessThanOrEqual(y, S.Zero), S.Zero, g);
}

internal readonly struct LeakyReluGradOperator<T>(T slope) : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public TV Invoke<TV, S>(TV g, TV x) where S : ISimd<TV, T> => S.Select(S.GreaterThan(x, S.Zero), g, S.Mul(g, S.Splat(slope)));
}

/// <summary>d sigmoid = g * y * (1 - y), from the saved output y.</summary>
internal readonly struct SigmoidGradOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public TV Invoke<TV, S>(TV g, TV y) where S : ISimd<TV, T> => S.Mul(S.Mul(g, y), S.Sub(S.Splat(T.One), y));
}

/// <summary>d tanh = g * (1 - y^2), from the saved output y.</summary>
internal readonly struct TanhGradOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public TV Invoke<TV, S>(TV g, TV y) where S : ISimd<TV, T> => S.Mul(g, S.Sub(S.Splat(T.One), S.Mul(y, y)));
}

/// <summary>ELU gradient from the saved output y: g for x &gt; 0, else g * (y + alpha).</summary>
internal readonly struct EluGradOperator<T>(T alpha) : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    public TV Invoke<TV, S>(TV g, TV y) where S : ISimd<TV, T> => S.Select(S.GreaterThan(y, S.Zero), g, S.Mul(g, S.Add(y, S.Splat(alpha))));
}
