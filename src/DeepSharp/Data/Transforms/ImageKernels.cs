using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepSharp.Data;

/// <summary>
/// Span loops behind the image transforms, one image (C planes of H x W) per call. They know
/// nothing of Tensor or random numbers: the transforms draw the parameters and call these.
/// </summary>
internal static class ImageKernels
{
    // ---- index maps: crops, padding and flips ----

    /// <summary>
    /// The source index of coordinate <paramref name="s"/> along a side of length <paramref name="n"/>
    /// under a padding mode, or -1 when the pixel takes the constant fill.
    /// </summary>
    public static int Resolve(int s, int n, PaddingMode mode)
    {
        if ((uint)s < (uint)n) return s;
        switch (mode)
        {
            case PaddingMode.Constant:
                return -1;
            case PaddingMode.Edge:
                return s < 0 ? 0 : n - 1;
            case PaddingMode.Reflect:
            {
                if (n == 1) return 0;
                int period = 2 * (n - 1);
                int r = Math.Abs(s) % period;
                return r < n ? r : period - r;
            }
            default: // Symmetric
            {
                int period = 2 * n;
                int r = s % period;
                if (r < 0) r += period;
                return r < n ? r : period - 1 - r;
            }
        }
    }

    /// <summary>map[k] = the source index of coordinate start + k (see <see cref="Resolve"/>).</summary>
    public static void IndexMap(Span<int> map, int start, int n, PaddingMode mode)
    {
        for (int k = 0; k < map.Length; k++) map[k] = Resolve(start + k, n, mode);
    }

    /// <summary>
    /// dst[c, r, k] = src[c, rows[r], cols[k]], or fill[c] where the row or column index is -1: crop,
    /// pad, centre-crop and their combinations in one pass.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per-pixel loops: optimised from the first batch, not after tier-0
    public static void Remap(ReadOnlySpan<float> src, int channels, int srcH, int srcW, Span<float> dst,
        ReadOnlySpan<int> rows, ReadOnlySpan<int> cols, in Fill fill)
    {
        int oh = rows.Length, ow = cols.Length;
        // The run of consecutive in-range columns is copied as a block (the common case for crops).
        int runStart = 0;
        while (runStart < ow && cols[runStart] < 0) runStart++;
        int runEnd = runStart;
        while (runEnd < ow && cols[runEnd] == cols[runStart] + (runEnd - runStart)) runEnd++;
        for (int c = 0; c < channels; c++)
        {
            var plane = src.Slice(c * srcH * srcW, srcH * srcW);
            var outPlane = dst.Slice(c * oh * ow, oh * ow);
            float f = fill[c];
            for (int r = 0; r < oh; r++)
            {
                var d = outPlane.Slice(r * ow, ow);
                int sr = rows[r];
                if (sr < 0)
                {
                    d.Fill(f);
                    continue;
                }
                var s = plane.Slice(sr * srcW, srcW);
                for (int k = 0; k < runStart; k++) d[k] = cols[k] < 0 ? f : s[cols[k]];
                if (runEnd > runStart) s.Slice(cols[runStart], runEnd - runStart).CopyTo(d[runStart..runEnd]);
                for (int k = runEnd; k < ow; k++) d[k] = cols[k] < 0 ? f : s[cols[k]];
            }
        }
    }

    /// <summary>Mirrors each row (left-right).</summary>
    public static void FlipHorizontal(ReadOnlySpan<float> src, Span<float> dst, int rows, int width)
    {
        src.Slice(0, rows * width).CopyTo(dst);
        for (int r = 0; r < rows; r++) dst.Slice(r * width, width).Reverse();
    }

    /// <summary>Reverses the row order of each of the planes (top-bottom).</summary>
    public static void FlipVertical(ReadOnlySpan<float> src, Span<float> dst, int planes, int height, int width)
    {
        for (int p = 0; p < planes; p++)
            for (int r = 0; r < height; r++)
                src.Slice((p * height + r) * width, width).CopyTo(dst.Slice((p * height + height - 1 - r) * width, width));
    }

    // ---- bilinear resize (PyTorch's interpolate, align_corners=False, no antialias) ----

    /// <summary>
    /// The two source taps and the weight of the second for each output index, as PyTorch's CPU
    /// upsample kernel computes them in float: src = (o + 0.5) * in/out - 0.5, clamped at 0.
    /// </summary>
    public static void LinearTaps(int input, int output, Span<int> lo, Span<int> hi, Span<float> lambda)
    {
        float scale = (float)input / output;
        for (int o = 0; o < output; o++)
        {
            float src = scale * (o + 0.5f) - 0.5f;
            if (src < 0) src = 0;
            int l = Math.Min((int)src, input - 1);
            lo[o] = l;
            hi[o] = l < input - 1 ? l + 1 : l;
            lambda[o] = Math.Clamp(src - l, 0f, 1f);
        }
    }

    /// <summary>
    /// Resizes the window at (top, left) of each of the planes (row stride <paramref name="srcW"/>) to
    /// the taps' output size. The taps index into the window.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per-pixel loops: optimised from the first batch, not after tier-0
    public static void ResizeBilinear(ReadOnlySpan<float> src, int channels, int srcH, int srcW, int top, int left, Span<float> dst,
        ReadOnlySpan<int> y0, ReadOnlySpan<int> y1, ReadOnlySpan<float> ly,
        ReadOnlySpan<int> x0, ReadOnlySpan<int> x1, ReadOnlySpan<float> lx)
    {
        int oh = y0.Length, ow = x0.Length;
        for (int c = 0; c < channels; c++)
        {
            var plane = src.Slice(c * srcH * srcW, srcH * srcW);
            var outPlane = dst.Slice(c * oh * ow, oh * ow);
            for (int oy = 0; oy < oh; oy++)
            {
                var r0 = plane.Slice((top + y0[oy]) * srcW + left);
                var r1 = plane.Slice((top + y1[oy]) * srcW + left);
                float wy = ly[oy];
                var d = outPlane.Slice(oy * ow, ow);
                for (int ox = 0; ox < ow; ox++)
                {
                    int a = x0[ox], b = x1[ox];
                    float wx = lx[ox];
                    // a + w * (b - a) keeps constant regions exactly constant.
                    float t = r0[a] + wx * (r0[b] - r0[a]);
                    float u = r1[a] + wx * (r1[b] - r1[a]);
                    d[ox] = t + wy * (u - t);
                }
            }
        }
    }

    // ---- affine warps by inverse mapping (rotation, translation, scale, shear) ----

    /// <summary>
    /// torchvision's inverse affine matrix (the output-to-input map) for a rotation by
    /// <paramref name="angle"/> degrees (clockwise in image coordinates), scale, shear (degrees) and
    /// translation, about <paramref name="cx"/>, <paramref name="cy"/> given relative to the image centre.
    /// </summary>
    public static void InverseAffine(Span<double> m, double cx, double cy, double angle, double tx, double ty, double scale, double shearX, double shearY)
    {
        double rot = angle * (Math.PI / 180), sx = shearX * (Math.PI / 180), sy = shearY * (Math.PI / 180);
        // RotateScaleShear = R(a) S(s) SHy(sy) SHx(sx) without the scale; its determinant is 1.
        double a = Math.Cos(rot - sy) / Math.Cos(sy);
        double b = -Math.Cos(rot - sy) * Math.Tan(sx) / Math.Cos(sy) - Math.Sin(rot);
        double c = Math.Sin(rot - sy) / Math.Cos(sy);
        double d = -Math.Sin(rot - sy) * Math.Tan(sx) / Math.Cos(sy) + Math.Cos(rot);
        m[0] = d / scale; m[1] = -b / scale; m[3] = -c / scale; m[4] = a / scale;
        // C * RSS^-1 * C^-1 * T^-1
        m[2] = m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx;
        m[5] = m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy;
    }

    /// <summary>
    /// dst = src sampled at m applied to each output pixel, with torchvision's conventions: pixel
    /// (i, j) has centred coordinates (j - W/2 + 0.5, i - H/2 + 0.5), and m maps them to the input's
    /// centred coordinates. Bilinear taps outside the image weigh as <paramref name="fill"/>, blended
    /// as torchvision does (sample * mask + (1 - mask) * fill, mask = in-image weight), so results
    /// match RandomRotation/RandomAffine on tensors exactly, borders included.
    /// </summary>
    public static void Affine(ReadOnlySpan<float> src, Span<float> dst, int channels, int h, int w, ReadOnlySpan<double> m,
        InterpolationMode mode, in Fill fill)
    {
        // Fold the centring into the offsets: input x = m0 j + m1 i + bx (in pixel indices), same for y.
        double bx = m[0] * (0.5 - w * 0.5) + m[1] * (0.5 - h * 0.5) + m[2] + w * 0.5 - 0.5;
        double by = m[3] * (0.5 - w * 0.5) + m[4] * (0.5 - h * 0.5) + m[5] + h * 0.5 - 0.5;
        if (mode == InterpolationMode.Nearest) AffineNearest(src, dst, channels, h, w, m[0], m[1], bx, m[3], m[4], by, fill);
        else AffineBilinear(src, dst, channels, h, w, m[0], m[1], bx, m[3], m[4], by, fill);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per-pixel loops: optimised from the first batch, not after tier-0
    private static void AffineBilinear(ReadOnlySpan<float> src, Span<float> dst, int channels, int h, int w,
        double m0, double m1, double bx, double m3, double m4, double by, in Fill fill)
    {
        int plane = h * w;
        if (src.Length < channels * plane || dst.Length < channels * plane)
            throw new ArgumentException($"affine: buffers of {src.Length} and {dst.Length} floats are too small for {channels}x{h}x{w}");
        // Unchecked access: every index below is inside [0, channels * plane) by the tests around it.
        ref float s0 = ref MemoryMarshal.GetReference(src);
        ref float d0 = ref MemoryMarshal.GetReference(dst);
        for (int i = 0; i < h; i++)
        {
            double rx = m1 * i + bx, ry = m4 * i + by;
            for (int j = 0; j < w; j++)
            {
                double ix = m0 * j + rx, iy = m3 * j + ry;
                int o = i * w + j;
                if (!(ix > -1 && ix < w && iy > -1 && iy < h)) // every tap outside (or NaN)
                {
                    for (int c = 0; c < channels; c++) Unsafe.Add(ref d0, c * plane + o) = fill[c];
                    continue;
                }
                double flx = Math.Floor(ix), fly = Math.Floor(iy);
                int x0 = (int)flx, y0 = (int)fly;
                float fx = (float)(ix - flx), fy = (float)(iy - fly);
                if ((uint)x0 < (uint)(w - 1) && (uint)y0 < (uint)(h - 1))
                {
                    ref float p = ref Unsafe.Add(ref s0, y0 * w + x0);
                    ref float d = ref Unsafe.Add(ref d0, o);
                    for (int c = 0; c < channels; c++)
                    {
                        float a = p, b = Unsafe.Add(ref p, 1), e = Unsafe.Add(ref p, w), f = Unsafe.Add(ref p, w + 1);
                        float t = a + fx * (b - a);
                        float u = e + fx * (f - e);
                        d = t + fy * (u - t);
                        p = ref Unsafe.Add(ref p, plane);
                        d = ref Unsafe.Add(ref d, plane);
                    }
                    continue;
                }
                // Border: some taps fall outside and count as zero in the sample and in the mask.
                bool inX0 = x0 >= 0, inX1 = x0 + 1 < w, inY0 = y0 >= 0, inY1 = y0 + 1 < h;
                float w00 = inY0 && inX0 ? (1 - fx) * (1 - fy) : 0, w01 = inY0 && inX1 ? fx * (1 - fy) : 0;
                float w10 = inY1 && inX0 ? (1 - fx) * fy : 0, w11 = inY1 && inX1 ? fx * fy : 0;
                float mask = w00 + w01 + w10 + w11;
                int cx0 = Math.Max(x0, 0), cx1 = Math.Min(x0 + 1, w - 1), cy0 = Math.Max(y0, 0), cy1 = Math.Min(y0 + 1, h - 1);
                for (int c = 0; c < channels; c++)
                {
                    var q = src.Slice(c * plane, plane);
                    float sample = w00 * q[cy0 * w + cx0] + w01 * q[cy0 * w + cx1] + w10 * q[cy1 * w + cx0] + w11 * q[cy1 * w + cx1];
                    dst[c * plane + o] = sample * mask + (1 - mask) * fill[c];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per-pixel loops: optimised from the first batch, not after tier-0
    private static void AffineNearest(ReadOnlySpan<float> src, Span<float> dst, int channels, int h, int w,
        double m0, double m1, double bx, double m3, double m4, double by, in Fill fill)
    {
        int plane = h * w;
        for (int i = 0; i < h; i++)
        {
            double rx = m1 * i + bx, ry = m4 * i + by;
            for (int j = 0; j < w; j++)
            {
                double ix = Math.Round(m0 * j + rx), iy = Math.Round(m3 * j + ry); // nearbyint: ties to even
                int o = i * w + j;
                bool inside = ix >= 0 && ix < w && iy >= 0 && iy < h;
                int s = inside ? (int)iy * w + (int)ix : 0;
                for (int c = 0; c < channels; c++) dst[c * plane + o] = inside ? src[c * plane + s] : fill[c];
            }
        }
    }

    // ---- erasing ----

    /// <summary>Sets the rectangle to a per-channel value.</summary>
    public static void FillRect(Span<float> image, int channels, int h, int w, int top, int left, int height, int width, in Fill value)
    {
        for (int c = 0; c < channels; c++)
        {
            float v = value[c];
            for (int r = top; r < top + height; r++) image.Slice((c * h + r) * w + left, width).Fill(v);
        }
    }
}
