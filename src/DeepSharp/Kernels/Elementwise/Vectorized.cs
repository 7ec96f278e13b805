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
    // These formulas cost tens of cycles per vector: from 32k elements (~20 µs on one core) a second thread already
    // awake pays; from 256k it is worth waking one that naps.
    private const int ParallelMinElements = 1 << 15;
    private const int WakeMinElements = 1 << 18;

    public static void Map<T, TOp>(ReadOnlySpan<T> x, Span<T> dst, TOp op)
        where T : unmanaged, INumber<T> where TOp : struct, IUnaryOperator<T>
    {
        if (dst.Length < x.Length) throw new ArgumentException("Map: destination is too short");
        int parts = WorkerPool.Parts(x.Length, ParallelMinElements);
        if (parts > 1)
        {
            unsafe
            {
                fixed (T* px = x, pd = dst)
                    WorkerPool.For(parts, new UnaryTask<T, TOp>(px, pd, x.Length, parts, op, SimdWidth.Current), x.Length >= WakeMinElements);
            }
            return;
        }
        MapRange(x, dst, op, SimdWidth.Current);
    }

    private static void MapRange<T, TOp>(ReadOnlySpan<T> x, Span<T> dst, TOp op, int width)
        where T : unmanaged, INumber<T> where TOp : struct, IUnaryOperator<T>
    {
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T dr = ref MemoryMarshal.GetReference(dst);
        int n = x.Length;
        int i = width switch
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
        int parts = WorkerPool.Parts(x.Length, ParallelMinElements);
        if (parts > 1)
        {
            unsafe
            {
                fixed (T* px = x, py = y, pd = dst)
                    WorkerPool.For(parts, new BinaryTask<T, TOp>(px, py, pd, x.Length, parts, op, SimdWidth.Current), x.Length >= WakeMinElements);
            }
            return;
        }
        MapRange(x, y, dst, op, SimdWidth.Current);
    }

    private static void MapRange<T, TOp>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst, TOp op, int width)
        where T : unmanaged, INumber<T> where TOp : struct, IBinaryOperator<T>
    {
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        ref T dr = ref MemoryMarshal.GetReference(dst);
        int n = x.Length;
        int i = width switch
        {
            512 => Binary<T, TOp, Vector512<T>, Simd512<T>>(ref xr, ref yr, ref dr, n, op),
            256 => Binary<T, TOp, Vector256<T>, Simd256<T>>(ref xr, ref yr, ref dr, n, op),
            128 => Binary<T, TOp, Vector128<T>, Simd128<T>>(ref xr, ref yr, ref dr, n, op),
            _ => 0,
        };
        for (; i < n; i++) Unsafe.Add(ref dr, i) = op.Invoke<T, Simd1<T>>(Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i));
    }

    // One contiguous range per part, boundaries on whole 512-bit vectors so every part but the last has no tail;
    // the workers use the caller's vector width (a test may have forced one on the calling thread).
    private sealed unsafe class UnaryTask<T, TOp>(T* x, T* dst, int n, int parts, TOp op, int width) : IParallelTask
        where T : unmanaged, INumber<T> where TOp : struct, IUnaryOperator<T>
    {
        public void Run(int index)
        {
            var (start, end) = WorkerPool.Range(index, parts, n, 64);
            MapRange(new ReadOnlySpan<T>(x + start, end - start), new Span<T>(dst + start, end - start), op, width);
        }
    }

    private sealed unsafe class BinaryTask<T, TOp>(T* x, T* y, T* dst, int n, int parts, TOp op, int width) : IParallelTask
        where T : unmanaged, INumber<T> where TOp : struct, IBinaryOperator<T>
    {
        public void Run(int index)
        {
            var (start, end) = WorkerPool.Range(index, parts, n, 64);
            MapRange(new ReadOnlySpan<T>(x + start, end - start), new ReadOnlySpan<T>(y + start, end - start),
                new Span<T>(dst + start, end - start), op, width);
        }
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, S>(TV x) where S : ISimd<TV, T> => S.Select(S.GreaterThan(x, S.Zero), x, S.Mul(x, S.Splat(slope)));
}

/// <summary>Binary operators for gradients: x is the incoming gradient, y the saved value.</summary>
internal readonly struct ReluGradOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    // Blocked where y <= 0, passed elsewhere, NaN included (PyTorch's threshold_backward).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, S>(TV g, TV y) where S : ISimd<TV, T> => S.Select(S.LessThanOrEqual(y, S.Zero), S.Zero, g);
}

internal readonly struct LeakyReluGradOperator<T>(T slope) : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, S>(TV g, TV x) where S : ISimd<TV, T> => S.Select(S.GreaterThan(x, S.Zero), g, S.Mul(g, S.Splat(slope)));
}

/// <summary>d sigmoid = g * y * (1 - y), from the saved output y.</summary>
internal readonly struct SigmoidGradOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, S>(TV g, TV y) where S : ISimd<TV, T> => S.Mul(S.Mul(g, y), S.Sub(S.Splat(T.One), y));
}

/// <summary>d tanh = g * (1 - y^2), from the saved output y.</summary>
internal readonly struct TanhGradOperator<T> : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, S>(TV g, TV y) where S : ISimd<TV, T> => S.Mul(g, S.Sub(S.Splat(T.One), S.Mul(y, y)));
}

/// <summary>ELU gradient from the saved output y: g for x &gt; 0, else g * (y + alpha).</summary>
internal readonly struct EluGradOperator<T>(T alpha) : IBinaryOperator<T> where T : unmanaged, INumber<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, S>(TV g, TV y) where S : ISimd<TV, T> => S.Select(S.GreaterThan(y, S.Zero), g, S.Mul(g, S.Add(y, S.Splat(alpha))));
}
