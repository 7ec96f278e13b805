using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>Window geometry of a 2-D pooling over <see cref="Planes"/> independent H x W planes.</summary>
internal readonly record struct PoolGeometry(
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
/// flat index (iy * W + ix) of each winner inside its plane, as PyTorch's return_indices does, unless given no room
/// for them (inference, where nothing goes backward). The kernels are compiled fully optimised at once
/// (AggressiveOptimization): called per row, the 2x2 one otherwise ran its tier-0 code, its Take helpers not inlined,
/// for a noticeable part of a short training run.
/// </summary>
internal static class Pooling
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxForward<T>(ReadOnlySpan<T> x, Span<T> y, Span<long> indices, in PoolGeometry g, int plane0, int plane1)
        where T : unmanaged, INumber<T>
    {
        if (TilesBy2x2(g))
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
                    if (!indices.IsEmpty) indices[o] = bestIdx;
                }
        }
    }

    /// <summary>Whether <paramref name="g"/>'s windows are 2x2 with stride 2, undilated and unpadded, and all inside the input (no ceil-mode overhang).</summary>
    private static bool TilesBy2x2(in PoolGeometry g) =>
        g is { KernelH: 2, KernelW: 2, StrideH: 2, StrideW: 2, PadH: 0, PadW: 0, DilationH: 1, DilationW: 1 } && 2 * g.OutH <= g.InH && 2 * g.OutW <= g.InW;

    /// <summary>The common 2x2 stride-2 window (LeNet, VGG, most CNNs) when every window lies inside the input (no ceil-mode overhang).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MaxForward2x2<T>(ReadOnlySpan<T> x, Span<T> y, Span<long> indices, int inH, int inW, int outH, int outW, int plane0, int plane1)
        where T : unmanaged, INumber<T>
    {
        int inPlane = inH * inW, outPlane = outH * outW;
        fixed (T* px = x, py = y)
        fixed (long* pi = indices)
        {
            for (int pl = plane0; pl < plane1; pl++)
            {
                T* src = px + (long)pl * inPlane;
                T* dst = py + (long)pl * outPlane;
                long* idx = pi == null ? null : pi + (long)pl * outPlane;
                if (typeof(T) == typeof(float) && SimdWidth.Current == 512)
                {
                    MaxPlane2x2Avx512((float*)src, inW, outH, outW, (float*)dst, idx);
                    continue;
                }
                for (int oy = 0; oy < outH; oy++)
                    MaxRow2x2(src, 2 * oy * inW, inW, outW, dst + oy * outW, idx == null ? null : idx + oy * outW);
            }
        }
    }

    // Candidates in the generic path's scan order (top-left, top-right, bottom-left, bottom-right); a later
    // one wins when it is larger or NaN, and nothing replaces a NaN. Branch-free: with real data the
    // comparisons are coin flips, and mispredicted branches cost more than the arithmetic.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MaxRow2x2<T>(T* src, int r0, int inW, int outW, T* dst, long* idx) where T : unmanaged, INumber<T>
    {
        int r1 = r0 + inW;
        for (int ox = 0; ox < outW; ox++)
        {
            int c = 2 * ox;
            T best = src[r0 + c];
            int at = r0 + c;
            Take(ref best, ref at, src[r0 + c + 1], r0 + c + 1);
            Take(ref best, ref at, src[r1 + c], r1 + c);
            Take(ref best, ref at, src[r1 + c + 1], r1 + c + 1);
            dst[ox] = best;
            if (idx != null) idx[ox] = at;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take<T>(ref T best, ref int at, T v, int index) where T : INumber<T>
    {
        bool take = !T.IsNaN(best) & !(v <= best);
        best = take ? v : best;
        at = take ? index : at;
    }

    // Sixteen windows at a time: two rows of 32 inputs are split into even and odd columns, then the same
    // scan order and NaN rule as MaxRow2x2 with masked selects; row tails use masked loads and stores. The
    // masks and lane indices of a column of windows serve every row of the plane (LeNet-5's rows have 14 and 5
    // windows: computed per row, they cost as much as the pooling).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MaxPlane2x2Avx512(float* src, int inW, int outH, int outW, float* dst, long* idx)
    {
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = even + Vector512<int>.One;
        for (int ox = 0; ox < outW; ox += 16)
        {
            int windows = Math.Min(16, outW - ox);
            var (lo, hi, keep) = WindowLanes(windows);
            for (int oy = 0; oy < outH; oy++)
            {
                int r0 = 2 * oy * inW;
                float* t = src + r0 + 2 * ox, b = t + inW;
                var t0 = Avx512F.MaskLoad(t, lo, Vector512<float>.Zero);
                var t1 = Avx512F.MaskLoad(t + 16, hi, Vector512<float>.Zero);
                var b0 = Avx512F.MaskLoad(b, lo, Vector512<float>.Zero);
                var b1 = Avx512F.MaskLoad(b + 16, hi, Vector512<float>.Zero);
                var best = Avx512F.PermuteVar16x32x2(t0, even, t1);
                float* d = dst + oy * outW + ox;
                if (idx == null)
                {
                    Take(ref best, Avx512F.PermuteVar16x32x2(t0, odd, t1));
                    Take(ref best, Avx512F.PermuteVar16x32x2(b0, even, b1));
                    Take(ref best, Avx512F.PermuteVar16x32x2(b0, odd, b1));
                    Avx512F.MaskStore(d, keep.AsSingle(), best);
                    continue;
                }
                var first = Vector512.Create(r0 + 2 * ox) + even;
                var at = first;
                Take(ref best, ref at, Avx512F.PermuteVar16x32x2(t0, odd, t1), first + Vector512<int>.One);
                Take(ref best, ref at, Avx512F.PermuteVar16x32x2(b0, even, b1), first + Vector512.Create(inW));
                Take(ref best, ref at, Avx512F.PermuteVar16x32x2(b0, odd, b1), first + Vector512.Create(inW + 1));
                Avx512F.MaskStore(d, keep.AsSingle(), best);
                long* i = idx + oy * outW + ox;
                Avx512F.MaskStore(i, Avx512F.ConvertToVector512Int64(keep.GetLower()), Avx512F.ConvertToVector512Int64(at.GetLower()));
                if (windows > 8)
                    Avx512F.MaskStore(i + 8, Avx512F.ConvertToVector512Int64(keep.GetUpper()), Avx512F.ConvertToVector512Int64(at.GetUpper()));
            }
        }
    }

    // For a column of up to sixteen windows: the lanes of its two vectors of 32 inputs a row, and the windows' lanes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> Low, Vector512<float> High, Vector512<int> Windows) WindowLanes(int windows) =>
        (Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(2 * windows)).AsSingle(),
         Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(2 * windows - 16)).AsSingle(),
         Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(windows)));

    // Lanes where v replaces best: larger or NaN, unless best is NaN already.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Wins(Vector512<float> best, Vector512<float> v) =>
        Vector512.Equals(best, best) & ~Vector512.LessThanOrEqual(v, best);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(ref Vector512<float> best, Vector512<float> v) => best = Vector512.ConditionalSelect(Wins(best, v), v, best);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(ref Vector512<float> best, ref Vector512<int> at, Vector512<float> v, Vector512<int> index)
    {
        var take = Wins(best, v);
        best = Vector512.ConditionalSelect(take, v, best);
        at = Vector512.ConditionalSelect(take.AsInt32(), index, at);
    }

    /// <summary>gx[plane, index] += gy over planes plane0 to plane1 of gx, which it clears first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void MaxBackward<T>(ReadOnlySpan<T> gy, ReadOnlySpan<long> indices, Span<T> gx, in PoolGeometry g, int plane0, int plane1)
        where T : unmanaged, INumber<T>
    {
        int inPlane = g.InH * g.InW, outPlane = g.OutH * g.OutW;
        if (typeof(T) == typeof(float) && SimdWidth.Current == 512 && TilesBy2x2(g))
        {
            fixed (T* py = gy, px = gx)
            fixed (long* pi = indices)
                for (int pl = plane0; pl < plane1; pl++)
                    MaxBackwardPlane2x2Avx512((float*)py + (long)pl * outPlane, pi + (long)pl * outPlane, (float*)px + (long)pl * inPlane, g.InH, g.InW, g.OutH, g.OutW);
            return;
        }
        gx.Slice(plane0 * inPlane, (plane1 - plane0) * inPlane).Clear();
        for (int pl = plane0; pl < plane1; pl++)
            for (int o = pl * outPlane, end = o + outPlane; o < end; o++)
                if (indices[o] >= 0) gx[pl * inPlane + (int)indices[o]] += gy[o];
    }

    /// <summary>
    /// <see cref="MaxBackward{T}"/> of one plane of 2x2 stride-2 windows that do not overlap: every input position lies in
    /// at most one window, so each is written once, the window's gradient where its index names it and zero elsewhere,
    /// sixteen windows (two rows of 32 inputs) at a time, instead of clearing the plane and adding each gradient at its
    /// index (a write of the plane, then a scattered read and write of a quarter of it). gy + 0 as the scatter's
    /// 0 + gy (a -0 gradient lands as +0); columns and rows past the last window (odd sizes) are zeros.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MaxBackwardPlane2x2Avx512(float* gy, long* idx, float* gx, int inH, int inW, int outH, int outW)
    {
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var zipLow = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        var zipHigh = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        for (int ox = 0; ox < outW; ox += 16)
        {
            var (lo, hi, keep) = WindowLanes(Math.Min(16, outW - ox));
            var keepLow = Avx512F.ConvertToVector512Int64(keep.GetLower());
            var keepHigh = Avx512F.ConvertToVector512Int64(keep.GetUpper());
            for (int oy = 0; oy < outH; oy++)
            {
                int o = oy * outW + ox, r0 = 2 * oy * inW;
                var g = Avx512F.MaskLoad(gy + o, keep.AsSingle(), Vector512<float>.Zero);
                var low = Avx512F.ConvertToVector256Int32(Avx512F.MaskLoad(idx + o, keepLow, Vector512<long>.Zero));
                var high = Avx512F.ConvertToVector256Int32(Avx512F.MaskLoad(idx + o + 8, keepHigh, Vector512<long>.Zero));
                var at = Vector512.Create(low, high) - (Vector512.Create(r0 + 2 * ox) + even); // 0, 1, inW or inW + 1
                var topEven = Picked(g, at, 0);
                var topOdd = Picked(g, at, 1);
                var bottomEven = Picked(g, at, inW);
                var bottomOdd = Picked(g, at, inW + 1);
                float* t = gx + r0 + 2 * ox, b = t + inW;
                Avx512F.MaskStore(t, lo, Avx512F.PermuteVar16x32x2(topEven, zipLow, topOdd));
                Avx512F.MaskStore(t + 16, hi, Avx512F.PermuteVar16x32x2(topEven, zipHigh, topOdd));
                Avx512F.MaskStore(b, lo, Avx512F.PermuteVar16x32x2(bottomEven, zipLow, bottomOdd));
                Avx512F.MaskStore(b + 16, hi, Avx512F.PermuteVar16x32x2(bottomEven, zipHigh, bottomOdd));
            }
        }
        if (inW > 2 * outW)
            for (int y = 0; y < 2 * outH; y++) gx[(long)y * inW + inW - 1] = 0;
        if (inH > 2 * outH) new Span<float>(gx + (long)2 * outH * inW, (inH - 2 * outH) * inW).Clear();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Picked(Vector512<float> g, Vector512<int> at, int position) =>
        (g & Vector512.Equals(at, Vector512.Create(position)).AsSingle()) + Vector512<float>.Zero;

    /// <summary>
    /// Average pooling. The divisor follows PyTorch: the window clipped to the padded input when padding
    /// counts, else the number of real input elements, unless <paramref name="divisorOverride"/> is set.
    /// With <paramref name="backward"/> the same windows spread gy/divisor back over gx (zeroed by the caller).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
                    if (!indices.IsEmpty) indices[o] = bestIdx;
                }
            }
    }
}
