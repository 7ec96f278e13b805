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
internal static class Normalization
{
    /// <summary>Per-channel mean and biased variance over N and S (two passes, for accuracy).</summary>
    public static void ChannelMoments<T>(ReadOnlySpan<T> x, int n, int c, int s, Span<double> mean, Span<double> variance)
        where T : unmanaged, INumber<T>
    {
        double count = (double)n * s;
        for (int ch = 0; ch < c; ch++)
        {
            // A double sum of float32 values is exact for any realistic count, so a constant channel has exactly its
            // value as mean, zero deviations and zero variance (a float sum rounds, and the error then passes
            // through 1/sqrt(eps) ~ 316 into the output and the gradients).
            double sum = 0;
            for (int i = 0; i < n; i++) sum += WidenedSum(x.Slice((i * c + ch) * s, s));
            double m = count > 0 ? sum / count : 0;
            double sq = 0;
            for (int i = 0; i < n; i++)
                sq += SquaredDeviations(x.Slice((i * c + ch) * s, s), m);
            mean[ch] = m;
            variance[ch] = count > 0 ? sq / count : 0;
        }
    }

    /// <summary>Sum of the elements in double precision (float32 widened before adding), vectorised.</summary>
    private static double WidenedSum<T>(ReadOnlySpan<T> row) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(double)) return double.CreateTruncating(TensorPrimitives.Sum(row));
        int j = 0;
        double sum = 0;
        var values = MemoryMarshal.Cast<T, float>(row);
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<double> a0 = default, a1 = default;
            for (; j + Vector256<float>.Count <= values.Length; j += Vector256<float>.Count)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Create(values.Slice(j, Vector256<float>.Count)));
                a0 += lo;
                a1 += hi;
            }
            sum = Vector256.Sum(a0 + a1);
        }
        for (; j < values.Length; j++) sum += values[j];
        return sum;
    }

    /// <summary>Sum of g * (x - m) in double precision: centred, so no cancellation between sum(g x) and m sum(g).</summary>
    private static double CenteredDot<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, double m) where T : unmanaged, INumber<T>
    {
        int j = 0;
        double sum = 0;
        if (Vector256.IsHardwareAccelerated && typeof(T) == typeof(float))
        {
            var gs = MemoryMarshal.Cast<T, float>(g);
            var xs = MemoryMarshal.Cast<T, float>(x);
            var vm = Vector256.Create(m);
            Vector256<double> a0 = default, a1 = default;
            for (; j + Vector256<float>.Count <= xs.Length; j += Vector256<float>.Count)
            {
                var (xlo, xhi) = Vector256.Widen(Vector256.Create(xs.Slice(j, Vector256<float>.Count)));
                var (glo, ghi) = Vector256.Widen(Vector256.Create(gs.Slice(j, Vector256<float>.Count)));
                a0 = Vector256.FusedMultiplyAdd(glo, xlo - vm, a0);
                a1 = Vector256.FusedMultiplyAdd(ghi, xhi - vm, a1);
            }
            sum = Vector256.Sum(a0 + a1);
        }
        for (; j < x.Length; j++) sum += double.CreateTruncating(g[j]) * (double.CreateTruncating(x[j]) - m);
        return sum;
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

    /// <summary>
    /// y[n, c, :] = (x[n, c, :] - center[c]) * scale[c] + shift[c]. Centred first: the folded form x * scale + (shift -
    /// center * scale) cancels two large terms when scale is large (a near-constant channel: scale ~ 1/sqrt(eps)).
    /// </summary>
    public static void ChannelAffine<T>(ReadOnlySpan<T> x, Span<T> y, int n, int c, int s, ReadOnlySpan<double> center,
        ReadOnlySpan<double> scale, ReadOnlySpan<double> shift) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
            {
                int o = (i * c + ch) * s;
                var row = y.Slice(o, s);
                TensorPrimitives.Subtract(x.Slice(o, s), T.CreateTruncating(center[ch]), row);
                TensorPrimitives.Multiply(row, T.CreateTruncating(scale[ch]), row);
                TensorPrimitives.Add(row, T.CreateTruncating(shift[ch]), row);
            }
    }

    /// <summary>sumG[c] = sum g, sumGXc[c] = sum g * (x - center[c]) over N and S, in double.</summary>
    public static void ChannelGradSums<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, int n, int c, int s, ReadOnlySpan<double> center,
        Span<double> sumG, Span<double> sumGXc) where T : unmanaged, INumber<T>
    {
        for (int ch = 0; ch < c; ch++)
        {
            double a = 0, b = 0;
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * s;
                a += WidenedSum(g.Slice(o, s));
                b += CenteredDot(g.Slice(o, s), x.Slice(o, s), center[ch]);
            }
            sumG[ch] = a;
            sumGXc[ch] = b;
        }
    }

    /// <summary>dx[n, c, :] = a[c] * g + b[c] * (x - center[c]) + k[c]: the batch-norm input gradient, x centred first.</summary>
    public static void ChannelLinear<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, Span<T> dx, int n, int c, int s,
        ReadOnlySpan<double> a, ReadOnlySpan<double> b, ReadOnlySpan<double> center, ReadOnlySpan<double> k) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
            {
                int o = (i * c + ch) * s;
                var d = dx.Slice(o, s);
                TensorPrimitives.Subtract(x.Slice(o, s), T.CreateTruncating(center[ch]), d);
                TensorPrimitives.Multiply(d, T.CreateTruncating(b[ch]), d);
                TensorPrimitives.MultiplyAdd(g.Slice(o, s), T.CreateTruncating(a[ch]), d, d);
                TensorPrimitives.Add(d, T.CreateTruncating(k[ch]), d);
            }
    }

    /// <summary>
    /// Layer norm of contiguous rows of length n: y = (x - mean) invStd gamma + beta, gamma and beta per column
    /// (pass empty spans for none).
    /// </summary>
    public static void LayerNormForward<T>(ReadOnlySpan<T> x, Span<T> y, int rows, int n, ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * n, n);
            var yr = y.Slice(r * n, n);
            TensorPrimitives.Subtract(xr, T.CreateTruncating(mean[r]), yr);
            TensorPrimitives.Multiply(yr, T.CreateTruncating(invStd[r]), yr);
            if (!gamma.IsEmpty) TensorPrimitives.Multiply(yr, gamma, yr);
            if (!beta.IsEmpty) TensorPrimitives.Add(yr, beta, yr);
        }
    }

    /// <summary>
    /// Gradients of <see cref="LayerNormForward{T}"/>: dx = invStd (gh - mean(gh) - xhat mean(gh xhat)) with
    /// gh = g gamma, accumulated in double; dGamma += sum over rows of g xhat and dBeta += sum of g when given.
    /// </summary>
    public static void LayerNormBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> dx, int rows, int n, ReadOnlySpan<double> mean,
        ReadOnlySpan<double> invStd, ReadOnlySpan<double> gamma, Span<double> dGamma, Span<double> dBeta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xhat = new double[n];
        var gh = new double[n];
        bool affine = !gamma.IsEmpty, wantGamma = !dGamma.IsEmpty, wantBeta = !dBeta.IsEmpty;
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * n, n);
            var gr = g.Slice(r * n, n);
            double m = mean[r], s = invStd[r], sumGh = 0, sumGhX = 0;
            for (int j = 0; j < n; j++)
            {
                double xh = (double.CreateTruncating(xr[j]) - m) * s, gj = double.CreateTruncating(gr[j]);
                double ghj = affine ? gj * gamma[j] : gj;
                xhat[j] = xh;
                gh[j] = ghj;
                sumGh += ghj;
                sumGhX += ghj * xh;
                if (wantGamma) dGamma[j] += gj * xh;
                if (wantBeta) dBeta[j] += gj;
            }
            double meanGh = sumGh / n, meanGhX = sumGhX / n;
            var dr = dx.Slice(r * n, n);
            for (int j = 0; j < n; j++) dr[j] = T.CreateTruncating(s * (gh[j] - meanGh - xhat[j] * meanGhX));
        }
    }

    /// <summary>Mean and 1/sqrt(biased variance + eps) of each contiguous row.</summary>
    public static void RowStats<T>(ReadOnlySpan<T> x, int rows, int length, double eps, Span<double> mean, Span<double> invStd)
        where T : unmanaged, INumber<T>
    {
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * length, length);
            double m = length > 0 ? WidenedSum(row) / length : 0;
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
