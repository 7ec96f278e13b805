using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>Window geometry of a 2-D pooling over <see cref="Planes"/> independent H x W planes.</summary>
public readonly record struct PoolGeometry(
    int Planes, int InH, int InW, int OutH, int OutW,
    int KernelH, int KernelW, int StrideH, int StrideW, int PadH, int PadW, int DilationH = 1, int DilationW = 1)
{
    /// <summary>PyTorch's pooling output size: floor (or ceil) of (in + 2p - d(k-1) - 1)/s + 1, where a
    /// ceil-mode window must still start inside the input or its left padding.</summary>
    public static int OutputSize(int input, int kernel, int stride, int pad, int dilation, bool ceilMode)
    {
        int span = input + 2 * pad - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
        int output = (int)Math.Floor((double)span / stride) + 1;
        if (ceilMode && (output - 1) * stride >= input + pad) output--;
        return output;
    }
}

/// <summary>
/// Max, average and adaptive pooling over planes, forward and backward. Max pooling records the
/// flat index (iy * W + ix) of each winner inside its plane, as PyTorch's return_indices does.
/// </summary>
public static class Pooling
{
    public static void MaxForward<T>(ReadOnlySpan<T> x, Span<T> y, Span<long> indices, in PoolGeometry g, int plane0, int plane1)
        where T : unmanaged, INumber<T>
    {
        if (g is { KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, PadH: 0, PadW: 0, DilationH: 1, DilationW: 1 } && 2 * g.OutH <= g.InH && 2 * g.OutW <= g.InW)
        {
            MaxForward2x2(x, y, indices, g.InH, g.InW, g.OutH, g.OutW, plane0, plane1);
            return;
        }
        int inPlane = g.InH * g.InW, outPlane = g.OutH * g.OutW;
        for (int pl = plane0; pl < plane1; pl++)
        {
            var src = x.Slice(pl * inPlane, inPlane);
            for (int oy = 0; oy < g.OutH; oy++)
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    T best = T.Zero;
                    int bestIdx = -1;
                    for (int ky = 0; ky < g.KernelH; ky++)
                    {
                        int iy = oy * g.StrideH - g.PadH + ky * g.DilationH;
                        if ((uint)iy >= (uint)g.InH) continue;
                        for (int kx = 0; kx < g.KernelW; kx++)
                        {
                            int ix = ox * g.StrideW - g.PadW + kx * g.DilationW;
                            if ((uint)ix >= (uint)g.InW) continue;
                            T v = src[iy * g.InW + ix];
                            if (bestIdx < 0 || v > best || T.IsNaN(v))
                            {
                                best = v;
                                bestIdx = iy * g.InW + ix;
                                if (T.IsNaN(v)) goto done;
                            }
                        }
                    }
                done:
                    int o = pl * outPlane + oy * g.OutW + ox;
                    y[o] = best;
                    indices[o] = bestIdx;
                }
        }
    }

    /// <summary>The common 2x2 stride-2 window (LeNet, VGG, most CNNs) when every window lies inside the input (no ceil-mode overhang).</summary>
    private static void MaxForward2x2<T>(ReadOnlySpan<T> x, Span<T> y, Span<long> indices, int inH, int inW, int outH, int outW, int plane0, int plane1)
        where T : unmanaged, INumber<T>
    {
        int inPlane = inH * inW, outPlane = outH * outW;
        for (int pl = plane0; pl < plane1; pl++)
        {
            var src = x.Slice(pl * inPlane, inPlane);
            var dst = y.Slice(pl * outPlane, outPlane);
            var idx = indices.Slice(pl * outPlane, outPlane);
            for (int oy = 0; oy < outH; oy++)
            {
                int r0 = 2 * oy * inW, r1 = r0 + inW;
                var top = src.Slice(r0, 2 * outW);
                var bottom = src.Slice(r1, 2 * outW);
                var outRow = dst.Slice(oy * outW, outW);
                var idxRow = idx.Slice(oy * outW, outW);
                for (int ox = 0; ox < outW; ox++)
                {
                    // Scan order (row-major inside the window) and the NaN rule match the generic path.
                    int c = 2 * ox;
                    T best = top[c];
                    int at = r0 + c;
                    T v = top[c + 1];
                    if (!T.IsNaN(best) && (v > best || T.IsNaN(v))) { best = v; at = r0 + c + 1; }
                    v = bottom[c];
                    if (!T.IsNaN(best) && (v > best || T.IsNaN(v))) { best = v; at = r1 + c; }
                    v = bottom[c + 1];
                    if (!T.IsNaN(best) && (v > best || T.IsNaN(v))) { best = v; at = r1 + c + 1; }
                    outRow[ox] = best;
                    idxRow[ox] = at;
                }
            }
        }
    }

    /// <summary>gx[plane, index] += gy (gx must be zeroed by the caller).</summary>
    public static void MaxBackward<T>(ReadOnlySpan<T> gy, ReadOnlySpan<long> indices, Span<T> gx, int inPlane, int outPlane, int plane0, int plane1)
        where T : unmanaged, INumber<T>
    {
        for (int pl = plane0; pl < plane1; pl++)
            for (int o = pl * outPlane, end = o + outPlane; o < end; o++)
                if (indices[o] >= 0) gx[pl * inPlane + (int)indices[o]] += gy[o];
    }

    /// <summary>
    /// Average pooling. The divisor follows PyTorch: the window clipped to the padded input when padding
    /// counts, else the number of real input elements, unless <paramref name="divisorOverride"/> is set.
    /// With <paramref name="backward"/> the same windows spread gy/divisor back over gx (zeroed by the caller).
    /// </summary>
    public static void Average<T>(ReadOnlySpan<T> src, Span<T> dst, in PoolGeometry g, bool countIncludePad, int divisorOverride, bool backward, int plane0, int plane1)
        where T : unmanaged, INumber<T>
    {
        int inPlane = g.InH * g.InW, outPlane = g.OutH * g.OutW;
        for (int pl = plane0; pl < plane1; pl++)
            for (int oy = 0; oy < g.OutH; oy++)
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    int hs = oy * g.StrideH - g.PadH, ws = ox * g.StrideW - g.PadW;
                    int he = Math.Min(hs + g.KernelH, g.InH + g.PadH), we = Math.Min(ws + g.KernelW, g.InW + g.PadW);
                    int poolSize = (he - hs) * (we - ws);
                    hs = Math.Max(hs, 0);
                    ws = Math.Max(ws, 0);
                    he = Math.Min(he, g.InH);
                    we = Math.Min(we, g.InW);
                    int divisor = divisorOverride > 0 ? divisorOverride : countIncludePad ? poolSize : (he - hs) * (we - ws);
                    int o = pl * outPlane + oy * g.OutW + ox;
                    if (backward)
                    {
                        T share = src[o] / T.CreateTruncating(divisor);
                        for (int iy = hs; iy < he; iy++)
                            for (int ix = ws; ix < we; ix++) dst[pl * inPlane + iy * g.InW + ix] += share;
                    }
                    else
                    {
                        T sum = T.Zero;
                        for (int iy = hs; iy < he; iy++)
                            for (int ix = ws; ix < we; ix++) sum += src[pl * inPlane + iy * g.InW + ix];
                        dst[o] = divisor == 0 ? T.Zero : sum / T.CreateTruncating(divisor);
                    }
                }
    }

    /// <summary>Adaptive window i along a dim: [floor(i*in/out), ceil((i+1)*in/out)).</summary>
    public static (int Start, int End) AdaptiveWindow(int i, int input, int output) =>
        ((int)((long)i * input / output), (int)(((long)(i + 1) * input + output - 1) / output));

    /// <summary>Adaptive average (or, with indices, max) pooling; backward spreads (or routes) gy back.</summary>
    public static void AdaptiveAverage<T>(ReadOnlySpan<T> src, Span<T> dst, int inH, int inW, int outH, int outW, bool backward, int plane0, int plane1)
        where T : unmanaged, INumber<T>
    {
        int inPlane = inH * inW, outPlane = outH * outW;
        for (int pl = plane0; pl < plane1; pl++)
            for (int oy = 0; oy < outH; oy++)
            {
                var (hs, he) = AdaptiveWindow(oy, inH, outH);
                for (int ox = 0; ox < outW; ox++)
                {
                    var (ws, we) = AdaptiveWindow(ox, inW, outW);
                    T count = T.CreateTruncating((he - hs) * (we - ws));
                    int o = pl * outPlane + oy * outW + ox;
                    if (backward)
                    {
                        T share = src[o] / count;
                        for (int iy = hs; iy < he; iy++)
                            for (int ix = ws; ix < we; ix++) dst[pl * inPlane + iy * inW + ix] += share;
                    }
                    else
                    {
                        T sum = T.Zero;
                        for (int iy = hs; iy < he; iy++)
                            for (int ix = ws; ix < we; ix++) sum += src[pl * inPlane + iy * inW + ix];
                        dst[o] = sum / count;
                    }
                }
            }
    }

    public static void AdaptiveMax<T>(ReadOnlySpan<T> x, Span<T> y, Span<long> indices, int inH, int inW, int outH, int outW, int plane0, int plane1)
        where T : unmanaged, INumber<T>
    {
        int inPlane = inH * inW, outPlane = outH * outW;
        for (int pl = plane0; pl < plane1; pl++)
            for (int oy = 0; oy < outH; oy++)
            {
                var (hs, he) = AdaptiveWindow(oy, inH, outH);
                for (int ox = 0; ox < outW; ox++)
                {
                    var (ws, we) = AdaptiveWindow(ox, inW, outW);
                    T best = T.Zero;
                    int bestIdx = -1;
                    for (int iy = hs; iy < he; iy++)
                        for (int ix = ws; ix < we; ix++)
                        {
                            T v = x[pl * inPlane + iy * inW + ix];
                            if (bestIdx < 0 || v > best || T.IsNaN(v)) { best = v; bestIdx = iy * inW + ix; }
                        }
                    int o = pl * outPlane + oy * outW + ox;
                    y[o] = best;
                    indices[o] = bestIdx;
                }
            }
    }
}
