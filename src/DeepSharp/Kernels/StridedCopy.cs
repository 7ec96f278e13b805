namespace DeepSharp.Kernels;

/// <summary>
/// Copies an n-d strided view into another n-d strided view of the same shape. Adjacent dims
/// that are contiguous in both are merged first, so the inner loop is as long as possible and
/// becomes a block copy when both sides are unit-stride. Source stride 0 broadcasts.
/// </summary>
internal static class StridedCopy
{
    public static void Copy<T>(ReadOnlySpan<T> src, int srcOffset, ReadOnlySpan<int> srcStrides,
                               Span<T> dst, int dstOffset, ReadOnlySpan<int> dstStrides, ReadOnlySpan<int> shape)
    {
        int rank = shape.Length;
        Span<int> size = stackalloc int[Math.Max(rank, 1)];
        Span<int> ss = stackalloc int[Math.Max(rank, 1)];
        Span<int> ds = stackalloc int[Math.Max(rank, 1)];
        int r = Coalesce(shape, srcStrides, dstStrides, size, ss, ds);
        if (r < 0) return; // empty
        if (r == 0)
        {
            dst[dstOffset] = src[srcOffset];
            return;
        }
        int inner = size[r - 1], sIn = ss[r - 1], dIn = ds[r - 1];
        Span<int> index = stackalloc int[r];
        index.Clear();
        int s = srcOffset, d = dstOffset;
        while (true)
        {
            if (sIn == 1 && dIn == 1)
                src.Slice(s, inner).CopyTo(dst.Slice(d, inner));
            else if (sIn == 0)
                FillStrided(dst, d, dIn, inner, src[s]);
            else
                for (int i = 0, si = s, di = d; i < inner; i++, si += sIn, di += dIn) dst[di] = src[si];

            int k = r - 2;
            for (; k >= 0; k--)
            {
                index[k]++;
                s += ss[k];
                d += ds[k];
                if (index[k] < size[k]) break;
                s -= ss[k] * size[k];
                d -= ds[k] * size[k];
                index[k] = 0;
            }
            if (k < 0) return;
        }
    }

    private static void FillStrided<T>(Span<T> dst, int d, int stride, int count, T value)
    {
        if (stride == 1) dst.Slice(d, count).Fill(value);
        else for (int i = 0; i < count; i++, d += stride) dst[d] = value;
    }

    /// <summary>
    /// Drops size-1 dims and merges dim i into i+1 when both stride patterns allow it.
    /// Returns the new rank, or -1 when the shape has no elements.
    /// </summary>
    internal static int Coalesce(ReadOnlySpan<int> shape, ReadOnlySpan<int> aStrides, ReadOnlySpan<int> bStrides,
                                 Span<int> size, Span<int> aOut, Span<int> bOut)
    {
        int r = 0;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 0) return -1;
            if (shape[i] == 1) continue;
            if (r > 0 && aOut[r - 1] == aStrides[i] * shape[i] && bOut[r - 1] == bStrides[i] * shape[i])
            {
                size[r - 1] *= shape[i];
                aOut[r - 1] = aStrides[i];
                bOut[r - 1] = bStrides[i];
                continue;
            }
            size[r] = shape[i];
            aOut[r] = aStrides[i];
            bOut[r] = bStrides[i];
            r++;
        }
        return r;
    }
}
