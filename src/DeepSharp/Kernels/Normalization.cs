using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Statistics and per-channel affine passes for batch, layer and group normalisation. A tensor is
/// viewed as [N, C, S] (S = spatial size); rows of length S are contiguous, so every pass is a
/// vectorised span operation per (n, c) row. Statistics accumulate in double.
/// </summary>
public static class Normalization
{
    /// <summary>Per-channel mean and biased variance over N and S (two passes, for accuracy).</summary>
    public static void ChannelMoments<T>(ReadOnlySpan<T> x, int n, int c, int s, Span<double> mean, Span<double> variance)
        where T : unmanaged, INumber<T>
    {
        double count = (double)n * s;
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += double.CreateTruncating(TensorPrimitives.Sum(x.Slice((i * c + ch) * s, s)));
            double m = count > 0 ? sum / count : 0;
            double sq = 0;
            for (int i = 0; i < n; i++)
                sq += SquaredDeviations(x.Slice((i * c + ch) * s, s), m);
            mean[ch] = m;
            variance[ch] = count > 0 ? sq / count : 0;
        }
    }

    /// <summary>Sum of (x - m)^2 in double precision (two-pass variance: no cancellation), vectorised.</summary>
    private static double SquaredDeviations<T>(ReadOnlySpan<T> row, double m) where T : unmanaged, INumber<T>
    {
        int j = 0;
        double sq = 0;
        if (Vector512.IsHardwareAccelerated && typeof(T) == typeof(float))
        {
            var values = MemoryMarshal.Cast<T, float>(row);
            var vm = Vector512.Create(m);
            Vector512<double> a0 = default, a1 = default;
            for (; j + Vector512<float>.Count <= values.Length; j += Vector512<float>.Count)
            {
                var v = Vector512.Create(values.Slice(j, Vector512<float>.Count));
                var (lo, hi) = Vector512.Widen(v);
                var d0 = lo - vm;
                var d1 = hi - vm;
                a0 = Vector512.FusedMultiplyAdd(d0, d0, a0);
                a1 = Vector512.FusedMultiplyAdd(d1, d1, a1);
            }
            sq = Vector512.Sum(a0 + a1);
        }
        else if (Vector512.IsHardwareAccelerated && typeof(T) == typeof(double))
        {
            var values = MemoryMarshal.Cast<T, double>(row);
            var vm = Vector512.Create(m);
            Vector512<double> a0 = default;
            for (; j + Vector512<double>.Count <= values.Length; j += Vector512<double>.Count)
            {
                var d = Vector512.Create(values.Slice(j, Vector512<double>.Count)) - vm;
                a0 = Vector512.FusedMultiplyAdd(d, d, a0);
            }
            sq = Vector512.Sum(a0);
        }
        for (; j < row.Length; j++)
        {
            double d = double.CreateTruncating(row[j]) - m;
            sq += d * d;
        }
        return sq;
    }

    /// <summary>y[n, c, :] = x[n, c, :] * scale[c] + shift[c].</summary>
    public static void ChannelAffine<T>(ReadOnlySpan<T> x, Span<T> y, int n, int c, int s, ReadOnlySpan<double> scale, ReadOnlySpan<double> shift)
        where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
            {
                int o = (i * c + ch) * s;
                var row = y.Slice(o, s);
                TensorPrimitives.Multiply(x.Slice(o, s), T.CreateTruncating(scale[ch]), row);
                TensorPrimitives.Add(row, T.CreateTruncating(shift[ch]), row);
            }
    }

    /// <summary>sumG[c] = sum g, sumGX[c] = sum g*x over N and S.</summary>
    public static void ChannelGradSums<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, int n, int c, int s, Span<double> sumG, Span<double> sumGX)
        where T : unmanaged, INumber<T>
    {
        for (int ch = 0; ch < c; ch++)
        {
            double a = 0, b = 0;
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * s;
                a += double.CreateTruncating(TensorPrimitives.Sum(g.Slice(o, s)));
                b += double.CreateTruncating(TensorPrimitives.Dot(g.Slice(o, s), x.Slice(o, s)));
            }
            sumG[ch] = a;
            sumGX[ch] = b;
        }
    }

    /// <summary>dx[n, c, :] = a[c] * g + b[c] * x + k[c]: the batch-norm input gradient in one pass.</summary>
    public static void ChannelLinear<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, Span<T> dx, int n, int c, int s,
        ReadOnlySpan<double> a, ReadOnlySpan<double> b, ReadOnlySpan<double> k) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
            {
                int o = (i * c + ch) * s;
                var d = dx.Slice(o, s);
                TensorPrimitives.Multiply(g.Slice(o, s), T.CreateTruncating(a[ch]), d);
                TensorPrimitives.Add(d, T.CreateTruncating(k[ch]), d);
                TensorPrimitives.MultiplyAdd(x.Slice(o, s), T.CreateTruncating(b[ch]), d, d);
            }
    }

    /// <summary>Mean and 1/sqrt(biased variance + eps) of each contiguous row.</summary>
    public static void RowStats<T>(ReadOnlySpan<T> x, int rows, int length, double eps, Span<double> mean, Span<double> invStd)
        where T : unmanaged, INumber<T>
    {
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * length, length);
            double m = length > 0 ? double.CreateTruncating(TensorPrimitives.Sum(row)) / length : 0;
            double sq = 0;
            for (int j = 0; j < row.Length; j++)
            {
                double d = double.CreateTruncating(row[j]) - m;
                sq += d * d;
            }
            mean[r] = m;
            invStd[r] = 1 / Math.Sqrt((length > 0 ? sq / length : 0) + eps);
        }
    }
}
