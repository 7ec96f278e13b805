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

/// <summary>
/// An elementwise function over floating-point elements, named once for float32 and float64 (the element type is
/// a type argument, like <see cref="INumericBinaryOp"/>): its one formula is the scalar path (S = Simd1) and every
/// vector path. <c>p</c> and <c>q</c> carry the op's parameters (a slope, bounds), splatted
/// once per vector. <see cref="Tensor.Map{TOp}(string, Tensor, double, double)"/> runs it.
/// </summary>
internal interface IFloatUnaryFunction
{
    static abstract TV Invoke<TV, S, T>(TV x, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>A two-input <see cref="IFloatUnaryFunction"/>: x is usually an incoming gradient, y a saved value.</summary>
internal interface IFloatBinaryFunction
{
    static abstract TV Invoke<TV, S, T>(TV x, TV y, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>The operator struct of <typeparamref name="TOp"/> for element type <typeparamref name="T"/>, with its parameters.</summary>
internal readonly struct FloatUnary<TOp, T>(T p, T q) : IUnaryOperator<T> where TOp : IFloatUnaryFunction where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, S>(TV x) where S : ISimd<TV, T> => TOp.Invoke<TV, S, T>(x, S.Splat(p), S.Splat(q));
}

/// <summary>The operator struct of <typeparamref name="TOp"/> for element type <typeparamref name="T"/>, with its parameters.</summary>
internal readonly struct FloatBinary<TOp, T>(T p, T q) : IBinaryOperator<T> where TOp : IFloatBinaryFunction where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Invoke<TV, S>(TV x, TV y) where S : ISimd<TV, T> => TOp.Invoke<TV, S, T>(x, y, S.Splat(p), S.Splat(q));
}

/// <summary>
/// Helpers for functions whose formula has no vector form (erf, float64 GELU, softplus): the vector path runs the
/// scalar formula lane by lane (still one struct call, no delegate), and the float32 vector kernels of
/// <see cref="GeluKernels"/> are reached from a function generic over T.
/// </summary>
internal static class Lanes
{
    /// <summary>True on the scalar path (S = Simd1: TV is T itself).</summary>
    public static bool IsScalar<TV, T>() => typeof(TV) == typeof(T);

    /// <summary>The scalar path's value as a double (the scalar formulas compute in double for float32 too).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToDouble<TV, T>(TV x) where T : unmanaged, IFloatingPointIeee754<T> => double.CreateTruncating(Unsafe.As<TV, T>(ref x));

    /// <summary>A double result back as the scalar path's TV.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV FromDouble<TV, T>(double v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T t = T.CreateTruncating(v);
        return Unsafe.As<T, TV>(ref t);
    }

    /// <summary>Applies <typeparamref name="TOp"/>'s scalar path to each lane of the vectors.</summary>
    public static TV Each<TV, S, T, TOp>(TV x, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> where TOp : IFloatUnaryFunction
    {
        Span<T> buf = stackalloc T[3 * S.Count];
        ref T r = ref MemoryMarshal.GetReference(buf);
        nuint n = (nuint)S.Count;
        S.Store(x, ref r, 0);
        S.Store(p, ref r, n);
        S.Store(q, ref r, 2 * n);
        for (nuint i = 0; i < n; i++)
            Unsafe.Add(ref r, i) = TOp.Invoke<T, Simd1<T>, T>(Unsafe.Add(ref r, i), Unsafe.Add(ref r, n + i), Unsafe.Add(ref r, 2 * n + i));
        return S.Load(ref r, 0);
    }

    /// <summary>Applies <typeparamref name="TOp"/>'s scalar path to each lane of the vectors.</summary>
    public static TV Each<TV, S, T, TOp>(TV x, TV y, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> where TOp : IFloatBinaryFunction
    {
        Span<T> buf = stackalloc T[4 * S.Count];
        ref T r = ref MemoryMarshal.GetReference(buf);
        nuint n = (nuint)S.Count;
        S.Store(x, ref r, 0);
        S.Store(y, ref r, n);
        S.Store(p, ref r, 2 * n);
        S.Store(q, ref r, 3 * n);
        for (nuint i = 0; i < n; i++)
            Unsafe.Add(ref r, i) = TOp.Invoke<T, Simd1<T>, T>(Unsafe.Add(ref r, i), Unsafe.Add(ref r, n + i), Unsafe.Add(ref r, 2 * n + i), Unsafe.Add(ref r, 3 * n + i));
        return S.Load(ref r, 0);
    }

    /// <summary>Runs the float32 operator <typeparamref name="TOp"/> on a float32 TV of any width (T is float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Float<TV, TOp>(TV x) where TOp : struct, IUnaryOperator<float>
    {
        if (typeof(TV) == typeof(Vector512<float>)) return As<Vector512<float>, TV>(default(TOp).Invoke<Vector512<float>, Simd512<float>>(As<TV, Vector512<float>>(x)));
        if (typeof(TV) == typeof(Vector256<float>)) return As<Vector256<float>, TV>(default(TOp).Invoke<Vector256<float>, Simd256<float>>(As<TV, Vector256<float>>(x)));
        if (typeof(TV) == typeof(Vector128<float>)) return As<Vector128<float>, TV>(default(TOp).Invoke<Vector128<float>, Simd128<float>>(As<TV, Vector128<float>>(x)));
        return As<float, TV>(default(TOp).Invoke<float, Simd1<float>>(As<TV, float>(x)));
    }

    /// <summary>Runs the float32 operator <typeparamref name="TOp"/> on float32 TVs of any width (T is float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Float<TV, TOp>(TV x, TV y) where TOp : struct, IBinaryOperator<float>
    {
        if (typeof(TV) == typeof(Vector512<float>)) return As<Vector512<float>, TV>(default(TOp).Invoke<Vector512<float>, Simd512<float>>(As<TV, Vector512<float>>(x), As<TV, Vector512<float>>(y)));
        if (typeof(TV) == typeof(Vector256<float>)) return As<Vector256<float>, TV>(default(TOp).Invoke<Vector256<float>, Simd256<float>>(As<TV, Vector256<float>>(x), As<TV, Vector256<float>>(y)));
        if (typeof(TV) == typeof(Vector128<float>)) return As<Vector128<float>, TV>(default(TOp).Invoke<Vector128<float>, Simd128<float>>(As<TV, Vector128<float>>(x), As<TV, Vector128<float>>(y)));
        return As<float, TV>(default(TOp).Invoke<float, Simd1<float>>(As<TV, float>(x), As<TV, float>(y)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TTo As<TFrom, TTo>(TFrom v) => Unsafe.As<TFrom, TTo>(ref v);
}

// Activation forward functions and gradient formulas (x the incoming gradient, y the saved value), each named once.

/// <summary>x for x &gt; 0, slope x otherwise (p = slope).</summary>
internal readonly struct LeakyReluOp : IFloatUnaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV slope, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Select(S.GreaterThan(x, S.Zero), x, S.Mul(x, slope));
}

/// <summary>max(x + y, 0), NaN kept: a residual connection and its ReLU in one pass (the inference plan's add step).</summary>
internal readonly struct AddReluOp : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV y, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Max(S.Add(x, y), S.Zero);
}

/// <summary>Blocked where y &lt;= 0, passed elsewhere, NaN included (PyTorch's threshold_backward).</summary>
internal readonly struct ReluGrad : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV g, TV y, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Select(S.LessThanOrEqual(y, S.Zero), S.Zero, g);
}

/// <summary>g for x &gt; 0, g * slope otherwise (p = slope).</summary>
internal readonly struct LeakyReluGrad : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV g, TV x, TV slope, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Select(S.GreaterThan(x, S.Zero), g, S.Mul(g, slope));
}

/// <summary>d sigmoid = g * y * (1 - y), from the saved output y.</summary>
internal readonly struct SigmoidGrad : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV g, TV y, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Mul(S.Mul(g, y), S.Sub(S.Splat(T.One), y));
}

/// <summary>d tanh = g * (1 - y^2), from the saved output y.</summary>
internal readonly struct TanhGrad : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV g, TV y, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Mul(g, S.Sub(S.Splat(T.One), S.Mul(y, y)));
}

/// <summary>ELU gradient from the saved output y: g for y &gt; 0, else g * (y + alpha) (p = alpha).</summary>
internal readonly struct EluGrad : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV g, TV y, TV alpha, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Select(S.GreaterThan(y, S.Zero), g, S.Mul(g, S.Add(y, alpha)));
}

/// <summary>g where lo &lt;= x &lt;= hi (p = lo, q = hi), 0 elsewhere and where x is NaN.</summary>
internal readonly struct ClampGrad : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV g, TV x, TV lo, TV hi) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Select(S.LessThanOrEqual(lo, x), S.Select(S.LessThanOrEqual(x, hi), g, S.Zero), S.Zero);
}

/// <summary>Heaviside step: 1 where x &gt; 0, else 0.</summary>
internal readonly struct StepOp : IFloatUnaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Select(S.GreaterThan(x, S.Zero), S.Splat(T.One), S.Zero);
}

/// <summary>x / y, and 0 where y == 0 (a gradient through a norm or deviation that is 0).</summary>
internal readonly struct DivOrZero : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV y, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Select(S.LessThanOrEqual(S.Abs(y), S.Zero), S.Zero, S.Div(x, y));
}

/// <summary>y where x != 0, 0 where x == 0 (log a as the pow gradient defines it: y = log x).</summary>
internal readonly struct ZeroWhereZero : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV y, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Select(S.LessThanOrEqual(S.Abs(x), S.Zero), S.Zero, y);
}

/// <summary>x where finite, 0 where infinite (NaN stays NaN).</summary>
internal readonly struct FiniteOrZero : IFloatUnaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV p, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T> =>
        S.Select(S.LessThanOrEqual(S.Splat(T.PositiveInfinity), S.Abs(x)), S.Zero, x);
}

/// <summary>The share of a maximum's (p = 1) or minimum's (p = 0) gradient that goes to x: 0.5 on a tie, else p where x &gt; y and 1 - p otherwise (NaN included).</summary>
internal readonly struct WinnerShare : IFloatBinaryFunction
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TV, S, T>(TV x, TV y, TV max, TV q) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        TV share = S.Select(S.GreaterThan(x, y), max, S.Sub(S.Splat(T.One), max));
        TV tie = S.Select(S.LessThanOrEqual(x, y), S.LessThanOrEqual(y, x), S.Zero);
        return S.Select(tie, S.Splat(T.CreateTruncating(0.5)), share);
    }
}

/// <summary>log(1 + e^{beta x})/beta (p = beta), x where beta x &gt; threshold (q), as PyTorch; computed in double, lane by lane.</summary>
internal readonly struct SoftplusOp : IFloatUnaryFunction
{
    public static TV Invoke<TV, S, T>(TV x, TV beta, TV threshold) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Lanes.IsScalar<TV, T>()) return Lanes.Each<TV, S, T, SoftplusOp>(x, beta, threshold);
        double v = Lanes.ToDouble<TV, T>(x), b = Lanes.ToDouble<TV, T>(beta), z = v * b;
        if (z > Lanes.ToDouble<TV, T>(threshold)) return x;
        return Lanes.FromDouble<TV, T>((z > 0 ? z + Math.Log(1 + Math.Exp(-z)) : Math.Log(1 + Math.Exp(z))) / b);
    }
}

/// <summary>g sigmoid(beta x) (p = beta), g where beta x &gt; threshold (q); computed in double, lane by lane.</summary>
internal readonly struct SoftplusGrad : IFloatBinaryFunction
{
    public static TV Invoke<TV, S, T>(TV g, TV x, TV beta, TV threshold) where S : ISimd<TV, T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Lanes.IsScalar<TV, T>()) return Lanes.Each<TV, S, T, SoftplusGrad>(g, x, beta, threshold);
        double z = Lanes.ToDouble<TV, T>(x) * Lanes.ToDouble<TV, T>(beta);
        if (z > Lanes.ToDouble<TV, T>(threshold)) return g;
        return Lanes.FromDouble<TV, T>(Lanes.ToDouble<TV, T>(g) / (1 + Math.Exp(-z)));
    }
}
