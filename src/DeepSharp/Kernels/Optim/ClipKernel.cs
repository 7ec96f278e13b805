using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels.Optim;

/// <summary>
/// Gradient clipping: the norms (accumulated in double, so a long float32 gradient loses no
/// precision), an in-place scale and an in-place clamp.
/// </summary>
internal static class ClipKernel
{
    /// <summary>Σ x², in double.</summary>
    public static double SumOfSquares<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return SumOfSquares(MemoryMarshal.Cast<T, float>(x));
        if (typeof(T) == typeof(double)) return SumOfSquares(MemoryMarshal.Cast<T, double>(x));
        throw new NotSupportedException($"SumOfSquares on {typeof(T).Name}");
    }

    private static double SumOfSquares(ReadOnlySpan<float> x)
    {
        ref float r = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        double sum = 0;
        if (SimdWidth.Current == 512 && n >= Vector512<float>.Count)
        {
            Vector512<double> a0 = default, a1 = default;
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref r, (nuint)i));
                a0 = Simd512<double>.Fma(lo, lo, a0);
                a1 = Simd512<double>.Fma(hi, hi, a1);
            }
            sum = Vector512.Sum(a0 + a1);
        }
        else if (SimdWidth.Current == 256 && n >= Vector256<float>.Count)
        {
            Vector256<double> a0 = default, a1 = default;
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref r, (nuint)i));
                a0 = Simd256<double>.Fma(lo, lo, a0);
                a1 = Simd256<double>.Fma(hi, hi, a1);
            }
            sum = Vector256.Sum(a0 + a1);
        }
        else if (SimdWidth.Current == 128 && n >= Vector128<float>.Count)
        {
            Vector128<double> a0 = default, a1 = default;
            for (; i <= n - Vector128<float>.Count; i += Vector128<float>.Count)
            {
                var (lo, hi) = Vector128.Widen(Vector128.LoadUnsafe(ref r, (nuint)i));
                a0 = Simd128<double>.Fma(lo, lo, a0);
                a1 = Simd128<double>.Fma(hi, hi, a1);
            }
            sum = Vector128.Sum(a0 + a1);
        }
        for (; i < n; i++)
        {
            double v = Unsafe.Add(ref r, i);
            sum = Simd1<double>.Fma(v, v, sum);
        }
        return sum;
    }

    private static double SumOfSquares(ReadOnlySpan<double> x)
    {
        ref double r = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        double sum = 0;
        if (SimdWidth.Current == 512 && n >= Vector512<double>.Count)
        {
            Vector512<double> a = default;
            for (; i <= n - Vector512<double>.Count; i += Vector512<double>.Count)
            {
                var v = Vector512.LoadUnsafe(ref r, (nuint)i);
                a = Simd512<double>.Fma(v, v, a);
            }
            sum = Vector512.Sum(a);
        }
        else if (SimdWidth.Current == 256 && n >= Vector256<double>.Count)
        {
            Vector256<double> a = default;
            for (; i <= n - Vector256<double>.Count; i += Vector256<double>.Count)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i);
                a = Simd256<double>.Fma(v, v, a);
            }
            sum = Vector256.Sum(a);
        }
        else if (SimdWidth.Current == 128 && n >= Vector128<double>.Count)
        {
            Vector128<double> a = default;
            for (; i <= n - Vector128<double>.Count; i += Vector128<double>.Count)
            {
                var v = Vector128.LoadUnsafe(ref r, (nuint)i);
                a = Simd128<double>.Fma(v, v, a);
            }
            sum = Vector128.Sum(a);
        }
        for (; i < n; i++)
        {
            double v = Unsafe.Add(ref r, i);
            sum = Simd1<double>.Fma(v, v, sum);
        }
        return sum;
    }

    /// <summary>max |x| (0 for an empty span), NaN if any element is NaN.</summary>
    public static double MaxAbs<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T r = ref MemoryMarshal.GetReference(x);
        int n = x.Length;
        T max = SimdWidth.Current switch
        {
            512 => MaxAbs<T, Vector512<T>, Simd512<T>>(ref r, n),
            256 => MaxAbs<T, Vector256<T>, Simd256<T>>(ref r, n),
            128 => MaxAbs<T, Vector128<T>, Simd128<T>>(ref r, n),
            _ => MaxAbs<T, T, Simd1<T>>(ref r, n),
        };
        return double.CreateTruncating(max);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe T MaxAbs<T, TV, S>(ref T x, int n) where T : unmanaged, IFloatingPointIeee754<T> where TV : unmanaged where S : ISimd<TV, T>
    {
        int i = 0, w = S.Count;
        TV acc = S.Zero;
        for (; i <= n - w; i += w)
            acc = S.Max(acc, S.Abs(S.Load(ref x, (nuint)i)));
        T max = T.Zero;
        T* lanes = (T*)&acc;
        for (int k = 0; k < w; k++) max = Simd1<T>.Max(max, lanes[k]);
        for (; i < n; i++) max = Simd1<T>.Max(max, T.Abs(Unsafe.Add(ref x, i)));
        return max;
    }

    /// <summary>Σ |x|^p in double, for the general p-norm (rare: 2 and ∞ have fast paths).</summary>
    public static double SumOfPowers<T>(ReadOnlySpan<T> x, double p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double sum = 0;
        foreach (T v in x) sum += Math.Pow(Math.Abs(double.CreateTruncating(v)), p);
        return sum;
    }

    /// <summary>x = x · factor.</summary>
    public static void Scale<T>(Span<T> x, T factor) where T : unmanaged, IFloatingPointIeee754<T> =>
        FusedUpdate.Run<T, ScaleUpdate<T>>(x.Length, new ScaleUpdate<T>(ref MemoryMarshal.GetReference(x), factor));

    /// <summary>x = min(max(x, min), max); NaN stays NaN (as torch.clamp).</summary>
    public static void Clamp<T>(Span<T> x, T min, T max) where T : unmanaged, IFloatingPointIeee754<T> =>
        FusedUpdate.Run<T, ClampUpdate<T>>(x.Length, new ClampUpdate<T>(ref MemoryMarshal.GetReference(x), min, max));

    private readonly ref struct ScaleUpdate<T>(ref T x, T factor) : IFusedUpdate<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ref T _x = ref x;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<TV, TS>(nuint i) where TS : ISimd<TV, T> =>
            TS.Store(TS.Mul(TS.Load(ref _x, i), TS.Splat(factor)), ref _x, i);
    }

    private readonly ref struct ClampUpdate<T>(ref T x, T min, T max) : IFusedUpdate<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ref T _x = ref x;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<TV, TS>(nuint i) where TS : ISimd<TV, T> =>
            TS.Store(TS.Min(TS.Max(TS.Load(ref _x, i), TS.Splat(min)), TS.Splat(max)), ref _x, i);
    }
}
