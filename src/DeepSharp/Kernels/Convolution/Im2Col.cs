using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>
/// Unfolding of one image's channels into GEMM columns and the reverse scatter-add.
/// Row r = (c, ky, kx) of the column block holds, for every output position (oy, ox), the input
/// pixel that kernel tap sees (zero in the padding). The block row stride is <c>ld</c> so that
/// several images can sit side by side in one block and share one GEMM.
/// </summary>
public static class Im2Col
{
    /// <summary>col[r, colOffset + p] = x[c, iy, ix] for the channels [c0, c0 + channels) of one image.</summary>
    public static void Unfold<T>(ReadOnlySpan<T> image, in ConvGeometry g, int c0, int channels, Span<T> col, int ld, int colOffset)
        where T : unmanaged, INumber<T>
    {
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
                    int lo = Math.Clamp(CeilDiv(-dx, g.StrideW), 0, ow);
                    int hi = Math.Clamp(CeilDiv(w - dx, g.StrideW), lo, ow);
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
                        if (g.StrideW == 1)
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
                    int lo = Math.Clamp(CeilDiv(-dx, g.StrideW), 0, ow);
                    int hi = Math.Clamp(CeilDiv(w - dx, g.StrideW), lo, ow);
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int iy = oy * g.StrideH - g.PadH + ky * g.DilationH;
                        if ((uint)iy >= (uint)h) continue;
                        var inRow = plane.Slice(iy * w, w);
                        var colRow = src.Slice(oy * ow, ow);
                        if (g.StrideW == 1)
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

    private static int CeilDiv(int a, int b) => a >= 0 ? (a + b - 1) / b : -((-a) / b);
}
