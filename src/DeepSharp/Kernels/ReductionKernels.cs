using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Reductions over the middle axis of a contiguous [outer, r, inner] block, the layout every
/// single-dim (or adjacent-dims) reduction of a contiguous tensor already has. inner == 1 is
/// a row reduction (vectorised along r); inner &gt; 1 accumulates whole rows (vectorised along inner).
/// </summary>
internal static class ReductionKernels
{
    public static void Sum<T>(ReadOnlySpan<T> src, int outer, int r, int inner, Span<T> dst) where T : unmanaged, INumber<T>
    {
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) dst[o] = TensorPrimitives.Sum(src.Slice(o * r, r));
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            var acc = dst.Slice(o * inner, inner);
            if (r == 0) { acc.Clear(); continue; }
            var block = src.Slice(o * r * inner, r * inner);
            block[..inner].CopyTo(acc);
            for (int j = 1; j < r; j++) TensorPrimitives.Add(acc, block.Slice(j * inner, inner), acc);
        }
    }

    /// <summary>Max (or min) and the index of its first occurrence along r. NaN wins, as in PyTorch.</summary>
    public static void ArgExtreme<T>(ReadOnlySpan<T> src, int outer, int r, int inner, bool max, Span<T> values, Span<long> indices)
        where T : unmanaged, INumber<T>
    {
        for (int o = 0; o < outer; o++)
        {
            var block = src.Slice(o * r * inner, r * inner);
            for (int i = 0; i < inner; i++)
            {
                T best = block[i];
                int bestJ = 0;
                if (!T.IsNaN(best))
                {
                    for (int j = 1; j < r; j++)
                    {
                        T v = block[j * inner + i];
                        if (T.IsNaN(v)) { best = v; bestJ = j; break; }
                        if (max ? v > best : v < best) { best = v; bestJ = j; }
                    }
                }
                values[o * inner + i] = best;
                indices[o * inner + i] = bestJ;
            }
        }
    }

    /// <summary>Product along r.</summary>
    public static void Prod<T>(ReadOnlySpan<T> src, int outer, int r, int inner, Span<T> dst) where T : unmanaged, INumber<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                T p = T.One;
                for (int j = 0; j < r; j++) p *= src[(o * r + j) * inner + i];
                dst[o * inner + i] = p;
            }
    }

    /// <summary>
    /// d prod / d x_j = product of all the other elements, by prefix and suffix products
    /// (exact with zeros, unlike prod / x_j). dst[j] = g * prefix[j] * suffix[j].
    /// </summary>
    public static void ProdBackward<T>(ReadOnlySpan<T> src, ReadOnlySpan<T> grad, int outer, int r, int inner, Span<T> dst)
        where T : unmanaged, INumber<T>
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                T prefix = T.One;
                for (int j = 0; j < r; j++)
                {
                    int k = (o * r + j) * inner + i;
                    dst[k] = prefix;
                    prefix *= src[k];
                }
                T suffix = T.One;
                T g = grad[o * inner + i];
                for (int j = r - 1; j >= 0; j--)
                {
                    int k = (o * r + j) * inner + i;
                    dst[k] *= suffix * g;
                    suffix *= src[k];
                }
            }
    }

    /// <summary>
    /// Numerically stable softmax (or log-softmax) of each contiguous row of length n. Rows are shifted
    /// by their max first, then the exponentials of all rows are taken in one vector call: for short
    /// rows (10 classes) per-row call overhead would otherwise dominate.
    /// </summary>
    public static void Softmax<T>(ReadOnlySpan<T> src, Span<T> dst, int rows, int n, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows == 0 || n == 0) return;
        int total = rows * n;
        for (int row = 0; row < rows; row++)
        {
            var x = src.Slice(row * n, n);
            T m = TensorPrimitives.Max(x);
            if (T.IsNegativeInfinity(m)) m = T.Zero; // an all -inf row: keep exp finite
            TensorPrimitives.Subtract(x, m, dst.Slice(row * n, n));
        }
        if (!log)
        {
            TensorPrimitives.Exp(dst[..total], dst[..total]);
            for (int row = 0; row < rows; row++)
            {
                var y = dst.Slice(row * n, n);
                TensorPrimitives.Multiply(y, T.One / TensorPrimitives.Sum(y), y);
            }
            return;
        }
        var exp = System.Buffers.ArrayPool<T>.Shared.Rent(total);
        try
        {
            TensorPrimitives.Exp(dst[..total], exp.AsSpan(0, total));
            for (int row = 0; row < rows; row++)
            {
                var y = dst.Slice(row * n, n);
                TensorPrimitives.Subtract(y, T.Log(TensorPrimitives.Sum(exp.AsSpan(row * n, n))), y);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<T>.Shared.Return(exp);
        }
    }

    /// <summary>Softmax backward per row: dx = y * (g - sum(g*y)); log-softmax: dx = g - exp(y) * sum(g).</summary>
    public static void SoftmaxBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> g, Span<T> dst, int rows, int n, bool log)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int row = 0; row < rows; row++)
        {
            var yr = y.Slice(row * n, n);
            var gr = g.Slice(row * n, n);
            var dr = dst.Slice(row * n, n);
            if (log)
            {
                T s = TensorPrimitives.Sum(gr);
                TensorPrimitives.Exp(yr, dr);
                TensorPrimitives.Multiply(dr, -s, dr);
                TensorPrimitives.Add(dr, gr, dr);
            }
            else
            {
                T dot = TensorPrimitives.Dot(gr, yr);
                TensorPrimitives.Subtract(gr, dot, dr);
                TensorPrimitives.Multiply(dr, yr, dr);
            }
        }
    }
}
