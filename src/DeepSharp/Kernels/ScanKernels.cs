using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>
/// Cumulative sum and product along the middle axis of a contiguous [outer, n, inner] layout, and their
/// gradients. Each line (o, i) runs sequentially with a double accumulator, as PyTorch's CPU kernels do.
/// </summary>
internal static class ScanKernels
{
    /// <summary>dst[o, k, i] = sum (or product) of src[o, 0..k, i].</summary>
    public static void Forward<T>(ReadOnlySpan<T> src, int outer, int n, int inner, bool product, Span<T> dst) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(long))
        {
            ForwardExact(src, outer, n, inner, product, dst); // int64 stays exact (wrapping on overflow, as PyTorch)
            return;
        }
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int at = o * n * inner + i;
                double acc = product ? 1 : 0;
                for (int k = 0; k < n; k++, at += inner)
                {
                    double v = double.CreateTruncating(src[at]);
                    acc = product ? acc * v : acc + v;
                    dst[at] = T.CreateTruncating(acc);
                }
            }
    }

    private static void ForwardExact<T>(ReadOnlySpan<T> src, int outer, int n, int inner, bool product, Span<T> dst) where T : unmanaged, INumber<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int at = o * n * inner + i;
                T acc = product ? T.One : T.Zero;
                for (int k = 0; k < n; k++, at += inner)
                {
                    acc = unchecked(product ? acc * src[at] : acc + src[at]);
                    dst[at] = acc;
                }
            }
    }

    /// <summary>Gradient of cumsum: dx[o, k, i] = sum of g[o, k..n-1, i] (a reversed cumulative sum).</summary>
    public static void SumBackward<T>(ReadOnlySpan<T> g, int outer, int n, int inner, Span<T> dx) where T : unmanaged, INumber<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int at = o * n * inner + (n - 1) * inner + i;
                double acc = 0;
                for (int k = n - 1; k >= 0; k--, at -= inner)
                {
                    acc += double.CreateTruncating(g[at]);
                    dx[at] = T.CreateTruncating(acc);
                }
            }
    }

    /// <summary>
    /// Gradient of cumprod, exact with zeros: dx_j = sum over k &gt;= j of g_k prod_{m &lt;= k, m != j} x_m.
    /// Before the first zero z of a line that is (sum_{k=j}^{z-1} g_k y_k) / x_j; at z it is the running sum of
    /// g_k y_{z-1} prod_{z &lt; m &lt;= k} x_m; after z it is 0 (every product still holds x_z).
    /// </summary>
    public static void ProductBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> g, int outer, int n, int inner, Span<T> dx)
        where T : unmanaged, INumber<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int start = o * n * inner + i;
                int z = n;
                for (int k = 0; k < n; k++)
                    if (x[start + k * inner] == T.Zero) { z = k; break; }
                // j < z: suffix sums of g_k y_k over k < z, divided by x_j.
                double suffix = 0;
                for (int k = z - 1; k >= 0; k--)
                {
                    int at = start + k * inner;
                    suffix += double.CreateTruncating(g[at]) * double.CreateTruncating(y[at]);
                    dx[at] = T.CreateTruncating(suffix / double.CreateTruncating(x[at]));
                }
                if (z == n) continue;
                // j = z: products that skip x_z.
                double before = z == 0 ? 1 : double.CreateTruncating(y[start + (z - 1) * inner]);
                double running = before, acc = double.CreateTruncating(g[start + z * inner]) * before;
                for (int k = z + 1; k < n; k++)
                {
                    int at = start + k * inner;
                    running *= double.CreateTruncating(x[at]);
                    acc += double.CreateTruncating(g[at]) * running;
                }
                dx[start + z * inner] = T.CreateTruncating(acc);
                for (int k = z + 1; k < n; k++) dx[start + k * inner] = T.Zero;
            }
    }
}
