using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// Unfolding of one image's channels into GEMM columns and the reverse scatter-add.
/// Row r = (c, ky, kx) of the column block holds, for every output position (oy, ox), the input
/// pixel that kernel tap sees (zero in the padding). The block row stride is <c>ld</c> so that
/// several images can sit side by side in one block and share one GEMM.
/// </summary>
internal static class Im2Col
{
    /// <summary>col[r, colOffset + p] = x[c, iy, ix] for the channels [c0, c0 + channels) of one image.</summary>
    public static void Unfold<T>(ReadOnlySpan<T> image, in ConvGeometry g, int c0, int channels, Span<T> col, int ld, int colOffset)
        where T : unmanaged, INumber<T>
    {
        if (UseMaskedRows<T>(g))
        {
            UnfoldMasked(image, g, c0, channels, col, ld, colOffset);
            return;
        }
        int oh = g.OutH, ow = g.OutW, h = g.InH, w = g.InW;
        int row = 0;
        for (int c = 0; c < channels; c++)
        {
            var plane = image.Slice((c0 + c) * h * w, h * w);
            for (int ky = 0; ky < g.KernelH; ky++)
                for (int kx = 0; kx < g.KernelW; kx++, row++)
                {
                    var dst = col.Slice(row * ld + colOffset, oh * ow);
                    int dx = kx * g.DilationW - g.PadW;
                    // Output columns whose input column is inside the image: lo <= ox < hi.
                    int lo = Math.Clamp(ConvGeometry.CeilDiv(-dx, g.StrideW), 0, ow);
                    int hi = Math.Clamp(ConvGeometry.CeilDiv(w - dx, g.StrideW), lo, ow);
                    for (int oy = 0; oy < oh; oy++)
                    {
                        var outRow = dst.Slice(oy * ow, ow);
                        int iy = oy * g.StrideH - g.PadH + ky * g.DilationH;
                        if ((uint)iy >= (uint)h)
                        {
                            outRow.Clear();
                            continue;
                        }
                        outRow[..lo].Clear();
                        outRow[hi..].Clear();
                        var inRow = plane.Slice(iy * w, w);
                        if (g.StrideW == 1 && hi > lo) // (when no column is inside, lo + dx can be left of the row)
                            inRow.Slice(lo + dx, hi - lo).CopyTo(outRow[lo..hi]);
                        else
                            for (int ox = lo, ix = lo * g.StrideW + dx; ox < hi; ox++, ix += g.StrideW) outRow[ox] = inRow[ix];
                    }
                }
        }
    }

    /// <summary>The adjoint of <see cref="Unfold"/>: x[c, iy, ix] += col[r, colOffset + p].</summary>
    public static void Fold<T>(ReadOnlySpan<T> col, int ld, int colOffset, in ConvGeometry g, int c0, int channels, Span<T> image)
        where T : unmanaged, INumber<T>
    {
        if (UseMaskedRows<T>(g))
        {
            FoldMasked(col, ld, colOffset, g, c0, channels, image);
            return;
        }
        int oh = g.OutH, ow = g.OutW, h = g.InH, w = g.InW;
        int row = 0;
        for (int c = 0; c < channels; c++)
        {
            var plane = image.Slice((c0 + c) * h * w, h * w);
            for (int ky = 0; ky < g.KernelH; ky++)
                for (int kx = 0; kx < g.KernelW; kx++, row++)
                {
                    var src = col.Slice(row * ld + colOffset, oh * ow);
                    int dx = kx * g.DilationW - g.PadW;
                    int lo = Math.Clamp(ConvGeometry.CeilDiv(-dx, g.StrideW), 0, ow);
                    int hi = Math.Clamp(ConvGeometry.CeilDiv(w - dx, g.StrideW), lo, ow);
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int iy = oy * g.StrideH - g.PadH + ky * g.DilationH;
                        if ((uint)iy >= (uint)h) continue;
                        var inRow = plane.Slice(iy * w, w);
                        var colRow = src.Slice(oy * ow, ow);
                        if (g.StrideW == 1 && hi > lo)
                        {
                            var target = inRow.Slice(lo + dx, hi - lo);
                            System.Numerics.Tensors.TensorPrimitives.Add(target, colRow[lo..hi], target);
                        }
                        else
                            for (int ox = lo, ix = lo * g.StrideW + dx; ox < hi; ox++, ix += g.StrideW) inRow[ix] += colRow[ox];
                    }
                }
        }
    }

    // Stride-1 rows are short (LeNet: 28 and 10 columns), so per-row span copies and clears cost more in call
    // overhead than in data movement. With AVX-512 each row is a few masked vector moves instead: lanes outside
    // [lo, hi) (the padding) are never read and come out as zeros, and nothing past the row is written. Other
    // CPUs have no cheap masked moves and take the span copies, which are vectorised at every width.
    private static bool UseMaskedRows<T>(in ConvGeometry g) =>
        g.StrideW == 1 && SimdWidth.Current == 512 && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    private static unsafe void UnfoldMasked<T>(ReadOnlySpan<T> image, in ConvGeometry g, int c0, int channels, Span<T> col, int ld, int colOffset)
        where T : unmanaged, INumber<T>
    {
        int oh = g.OutH, ow = g.OutW, h = g.InH, w = g.InW, lanes = Vector512<T>.Count;
        fixed (T* pImage = image, pCol = col)
        {
            T* dstRow = pCol + colOffset;
            for (int c = 0; c < channels; c++)
            {
                T* plane = pImage + (long)(c0 + c) * h * w;
                for (int ky = 0; ky < g.KernelH; ky++)
                    for (int kx = 0; kx < g.KernelW; kx++, dstRow += ld)
                    {
                        int dx = kx * g.DilationW - g.PadW;
                        int lo = Math.Clamp(-dx, 0, ow), hi = Math.Clamp(w - dx, lo, ow);
                        for (int oy = 0; oy < oh; oy++)
                        {
                            int iy = oy * g.StrideH - g.PadH + ky * g.DilationH;
                            T* dst = dstRow + oy * ow;
                            bool inside = (uint)iy < (uint)h;
                            T* src = plane + (long)iy * w + dx; // only dereferenced in lanes [lo, hi) of an inside row
                            for (int x0 = 0; x0 < ow; x0 += lanes)
                            {
                                var store = Simd512<T>.FirstLanes(ow - x0);
                                var v = inside ? Simd512<T>.LoadMasked(src + x0, Simd512<T>.LaneRange(lo - x0, hi - x0)) : Vector512<T>.Zero;
                                Simd512<T>.StoreMasked(v, dst + x0, store);
                            }
                        }
                    }
            }
        }
    }

    private static unsafe void FoldMasked<T>(ReadOnlySpan<T> col, int ld, int colOffset, in ConvGeometry g, int c0, int channels, Span<T> image)
        where T : unmanaged, INumber<T>
    {
        int oh = g.OutH, ow = g.OutW, h = g.InH, w = g.InW, lanes = Vector512<T>.Count;
        fixed (T* pImage = image, pCol = col)
        {
            T* srcRow = pCol + colOffset;
            for (int c = 0; c < channels; c++)
            {
                T* plane = pImage + (long)(c0 + c) * h * w;
                for (int ky = 0; ky < g.KernelH; ky++)
                    for (int kx = 0; kx < g.KernelW; kx++, srcRow += ld)
                    {
                        int dx = kx * g.DilationW - g.PadW;
                        int lo = Math.Clamp(-dx, 0, ow), hi = Math.Clamp(w - dx, lo, ow);
                        if (lo >= hi) continue;
                        for (int oy = 0; oy < oh; oy++)
                        {
                            int iy = oy * g.StrideH - g.PadH + ky * g.DilationH;
                            if ((uint)iy >= (uint)h) continue;
                            T* src = srcRow + oy * ow;
                            T* dst = plane + (long)iy * w + dx;
                            for (int x0 = lo - lo % lanes; x0 < hi; x0 += lanes)
                            {
                                var mask = Simd512<T>.LaneRange(lo - x0, hi - x0);
                                Simd512<T>.StoreMasked(Simd512<T>.LoadMasked(dst + x0, mask) + Simd512<T>.LoadMasked(src + x0, mask), dst + x0, mask);
                            }
                        }
                    }
            }
        }
    }
}
