using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// Direct (no im2col) float32 convolution for layers with few input taps per output, such as a first layer on
/// grey images (LeNet's 1x5x5, the "cnn" model's 1x3x3). There the unfolded column block is K times the input
/// and writing it costs more than the arithmetic. Each image is first copied into a zero-bordered scratch whose
/// rows are a whole number of vector pairs wider than the output (plus the kernel's reach), so the inner loops
/// are plain vector loads with no bounds or masks: for every tap, two vectors of an input row feed eight
/// accumulators (four output channels x two chunks, enough independent FMA chains to hide their latency). The
/// weight gradient runs the same loops over a zero-padded copy of the output gradient. Stride 1, dilation 1,
/// one group, at every vector width (other shapes, and CPUs without SIMD, use im2col).
/// </summary>
internal static unsafe class DirectConv
{
    private const int MaxTaps = 32;
    private const int MaxKernelW = 17;
    private const int MaxScratchFloats = 64 * 1024;

    public static bool Applies<T>(in ConvGeometry g)
    {
        int lanes = SimdWidth.Current / 32;
        return typeof(T) == typeof(float) && lanes >= 4 && g.Groups == 1 &&
            g.UnitStride && g.DilationH == 1 && g.DilationW == 1 &&
            g.K <= MaxTaps && g.OutW >= 8 && g.KernelW <= MaxKernelW &&
            (long)g.InChannels * (g.InH + 2 * g.PadH) * (ChunkWidth(g, lanes) + g.KernelW - 1) <= MaxScratchFloats &&
            (long)g.OutChannels * g.OutH * ChunkWidth(g, lanes) <= MaxScratchFloats;
    }

    /// <summary>
    /// A thread's reusable scratch array (<paramref name="slot"/> is a [ThreadStatic] field), grown to at least
    /// <paramref name="length"/>; pinned, so a pointer to it stays valid until the slot grows.
    /// </summary>
    internal static float[] Scratch(ref float[]? slot, long length)
    {
        if (slot is null || slot.Length < length) slot = GC.AllocateArray<float>(Math.Max(checked((int)length), 1024), pinned: true);
        return slot;
    }

    // Output columns in an even number of vector-wide chunks (the loops take them in pairs).
    internal static int ChunkWidth(in ConvGeometry g, int lanes) => (g.OutW + 2 * lanes - 1) / (2 * lanes) * 2 * lanes;

    /// <summary>y[n, o] = sum over taps of w[o, tap] * shifted x[n] (+ bias[o]), max(y, 0) when relu; images split over the pool.</summary>
    public static void Forward(float* x, float* w, float* bias, float* y, ConvGeometry g, bool relu = false)
    {
        switch (SimdWidth.Current)
        {
            case 512: DirectConv<Vector512<float>, Simd512<float>>.Forward(x, w, bias, y, g, relu); break;
            case 256: DirectConv<Vector256<float>, Simd256<float>>.Forward(x, w, bias, y, g, relu); break;
            default: DirectConv<Vector128<float>, Simd128<float>>.Forward(x, w, bias, y, g, relu); break;
        }
    }

    /// <summary>gw[o, tap] = sum over images and positions of gy[n, o] * shifted x[n] (overwritten).</summary>
    public static void BackwardWeight(float* x, float* gy, float* gw, ConvGeometry g, int parts)
    {
        switch (SimdWidth.Current)
        {
            case 512: DirectConv<Vector512<float>, Simd512<float>>.BackwardWeight(x, gy, gw, g, parts); break;
            case 256: DirectConv<Vector256<float>, Simd256<float>>.BackwardWeight(x, gy, gw, g, parts); break;
            default: DirectConv<Vector128<float>, Simd128<float>>.BackwardWeight(x, gy, gw, g, parts); break;
        }
    }
}

/// <summary><see cref="DirectConv"/> at one vector width.</summary>
internal static unsafe class DirectConv<TV, S> where TV : unmanaged where S : ISimd<TV, float>
{
    private const int Block = 4; // output channels per pass

    public static void Forward(float* x, float* w, float* bias, float* y, ConvGeometry g, bool relu)
    {
        var task = new ForwardTask(x, w, bias, y, g, relu);
        if (g.Batch == 1) task.Run(0);
        else WorkerPool.For(g.Batch, task);
    }

    public static void BackwardWeight(float* x, float* gy, float* gw, ConvGeometry g, int parts)
    {
        int taps = g.K, outCh = g.OutChannels;
        // One vector accumulator per (part, output channel, tap); parts are fixed, so the sum does not depend on threads.
        var acc = new TV[parts * outCh * taps];
        fixed (TV* pAcc = acc)
        {
            WorkerPool.For(parts, new WeightTask(x, gy, pAcc, g, parts));
            for (int o = 0; o < outCh; o++)
                for (int t = 0; t < taps; t++)
                {
                    TV sum = S.Zero;
                    for (int part = 0; part < parts; part++)
                        sum = S.Add(sum, pAcc[((long)part * outCh + o) * taps + t]);
                    gw[o * taps + t] = S.Sum(sum);
                }
        }
    }

    private static int Lanes => S.Count;

    private static int ChunkWidth(in ConvGeometry g) => DirectConv.ChunkWidth(g, Lanes);

    // Scratch rows: the padded input height; row stride: every chunk plus the kernel's reach.
    private static int PaddedRows(in ConvGeometry g) => g.InH + 2 * g.PadH;

    private static int PaddedWidth(in ConvGeometry g) => ChunkWidth(g) + g.KernelW - 1;

    [ThreadStatic] private static float[]? t_image;
    [ThreadStatic] private static float[]? t_grad;


    /// <summary>Copies image n into padded [C, Hp, Wp] with zeros around (and right of) the data.</summary>
    private static void PadImage(float* x, int n, in ConvGeometry g, float* padded)
    {
        int hp = PaddedRows(g), wp = PaddedWidth(g), h = g.InH, w = g.InW;
        new Span<float>(padded, g.InChannels * hp * wp).Clear();
        float* image = x + (long)n * g.InChannels * h * w;
        for (int c = 0; c < g.InChannels; c++)
            for (int r = 0; r < h; r++)
                new ReadOnlySpan<float>(image + ((long)c * h + r) * w, w).CopyTo(new Span<float>(padded + ((long)c * hp + r + g.PadH) * wp + g.PadW, w));
    }

    private sealed class ForwardTask(float* x, float* w, float* bias, float* y, ConvGeometry g, bool relu) : IParallelTask
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int n)
        {
            int c = g.InChannels, hp = PaddedRows(g), wp = PaddedWidth(g), oh = g.OutH, ow = g.OutW, kh = g.KernelH, kw = g.KernelW, taps = g.K;
            int plane = oh * ow, width = ChunkWidth(g), lanes = Lanes;
            fixed (float* padded = DirectConv.Scratch(ref t_image, c * hp * wp))
            {
                PadImage(x, n, g, padded);
                float* output = y + (long)n * g.OutChannels * plane;
                for (int o0 = 0; o0 < g.OutChannels; o0 += Block)
                {
                    int rows = Math.Min(Block, g.OutChannels - o0);
                    // Missing channels of the last block reuse channel o0's weights and are not stored.
                    float* w0 = w + (long)o0 * taps;
                    float* w1 = rows > 1 ? w0 + taps : w0, w2 = rows > 2 ? w0 + 2 * taps : w0, w3 = rows > 3 ? w0 + 3 * taps : w0;
                    float b0 = bias is null ? 0 : bias[o0], b1 = bias is null || rows < 2 ? 0 : bias[o0 + 1];
                    float b2 = bias is null || rows < 3 ? 0 : bias[o0 + 2], b3 = bias is null || rows < 4 ? 0 : bias[o0 + 3];
                    for (int oy = 0; oy < oh; oy++)
                        for (int x0 = 0; x0 < width; x0 += 2 * lanes)
                        {
                            TV a0 = S.Splat(b0), a1 = S.Splat(b1), a2 = S.Splat(b2), a3 = S.Splat(b3);
                            TV e0 = a0, e1 = a1, e2 = a2, e3 = a3;
                            for (int ci = 0; ci < c; ci++)
                                for (int ky = 0; ky < kh; ky++)
                                {
                                    float* row = padded + ((long)ci * hp + oy + ky) * wp + x0;
                                    int t = (ci * kh + ky) * kw;
                                    for (int kx = 0; kx < kw; kx++, t++)
                                    {
                                        TV v = S.Load(row + kx), u = S.Load(row + kx + lanes);
                                        TV c0 = S.Splat(w0[t]), c1 = S.Splat(w1[t]), c2 = S.Splat(w2[t]), c3 = S.Splat(w3[t]);
                                        a0 = S.Fma(c0, v, a0); e0 = S.Fma(c0, u, e0);
                                        a1 = S.Fma(c1, v, a1); e1 = S.Fma(c1, u, e1);
                                        a2 = S.Fma(c2, v, a2); e2 = S.Fma(c2, u, e2);
                                        a3 = S.Fma(c3, v, a3); e3 = S.Fma(c3, u, e3);
                                    }
                                }
                            if (relu)
                            {
                                // The fused activation of the inference path; IEEE maximum keeps NaN, as relu.
                                TV zero = S.Zero;
                                a0 = S.Max(a0, zero); a1 = S.Max(a1, zero); a2 = S.Max(a2, zero); a3 = S.Max(a3, zero);
                                e0 = S.Max(e0, zero); e1 = S.Max(e1, zero); e2 = S.Max(e2, zero); e3 = S.Max(e3, zero);
                            }
                            float* dst = output + (long)o0 * plane + oy * ow + x0;
                            Store(dst, plane, rows, ow - x0, a0, a1, a2, a3);
                            if (x0 + lanes < ow) Store(dst + lanes, plane, rows, ow - x0 - lanes, e0, e1, e2, e3);
                        }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(float* dst, int plane, int rows, int count, TV a0, TV a1, TV a2, TV a3)
        {
            if (count >= S.Count)
            {
                S.Store(a0, dst);
                if (rows > 1) S.Store(a1, dst + plane);
                if (rows > 2) S.Store(a2, dst + 2 * plane);
                if (rows > 3) S.Store(a3, dst + 3 * plane);
                return;
            }
            S.StoreFirst(a0, dst, count);
            if (rows > 1) S.StoreFirst(a1, dst + plane, count);
            if (rows > 2) S.StoreFirst(a2, dst + 2 * plane, count);
            if (rows > 3) S.StoreFirst(a3, dst + 3 * plane, count);
        }
    }

    private sealed class WeightTask(float* x, float* gy, TV* acc, ConvGeometry g, int parts) : IParallelTask
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int part)
        {
            int c = g.InChannels, hp = PaddedRows(g), wp = PaddedWidth(g), oh = g.OutH, ow = g.OutW, kh = g.KernelH, kw = g.KernelW, taps = g.K;
            int outCh = g.OutChannels, plane = oh * ow, width = ChunkWidth(g), lanes = Lanes;
            TV* partAcc = acc + (long)part * outCh * taps;
            new Span<TV>(partAcc, outCh * taps).Clear();
            int n0 = (int)((long)g.Batch * part / parts), n1 = (int)((long)g.Batch * (part + 1) / parts);
            fixed (float* padded = DirectConv.Scratch(ref t_image, c * hp * wp), grad = DirectConv.Scratch(ref t_grad, outCh * oh * width))
            {
                new Span<float>(grad, outCh * oh * width).Clear();
                for (int n = n0; n < n1; n++)
                {
                    PadImage(x, n, g, padded);
                    // The output gradient with rows widened to whole chunks; the extra columns stay zero.
                    float* source = gy + (long)n * outCh * plane;
                    for (int r = 0; r < outCh * oh; r++)
                        new ReadOnlySpan<float>(source + (long)r * ow, ow).CopyTo(new Span<float>(grad + (long)r * width, ow));
                    for (int o0 = 0; o0 < outCh; o0 += Block)
                    {
                        int rows = Math.Min(Block, outCh - o0);
                        // Missing channels of the last block read channel o0's gradient and are not accumulated.
                        float* g0 = grad + (long)o0 * oh * width;
                        float* g1 = rows > 1 ? g0 + oh * width : g0, g2 = rows > 2 ? g0 + 2 * oh * width : g0, g3 = rows > 3 ? g0 + 3 * oh * width : g0;
                        for (int ci = 0; ci < c; ci++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int t = (ci * kh + ky) * kw + kx;
                                    TV a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero;
                                    TV e0 = S.Zero, e1 = S.Zero, e2 = S.Zero, e3 = S.Zero;
                                    for (int oy = 0; oy < oh; oy++)
                                    {
                                        float* row = padded + ((long)ci * hp + oy + ky) * wp + kx;
                                        int at = oy * width;
                                        for (int x0 = 0; x0 < width; x0 += 2 * lanes, at += 2 * lanes)
                                        {
                                            TV v = S.Load(row + x0), u = S.Load(row + x0 + lanes);
                                            a0 = S.Fma(S.Load(g0 + at), v, a0);
                                            a1 = S.Fma(S.Load(g1 + at), v, a1);
                                            a2 = S.Fma(S.Load(g2 + at), v, a2);
                                            a3 = S.Fma(S.Load(g3 + at), v, a3);
                                            e0 = S.Fma(S.Load(g0 + at + lanes), u, e0);
                                            e1 = S.Fma(S.Load(g1 + at + lanes), u, e1);
                                            e2 = S.Fma(S.Load(g2 + at + lanes), u, e2);
                                            e3 = S.Fma(S.Load(g3 + at + lanes), u, e3);
                                        }
                                    }
                                    TV* slot = partAcc + (long)o0 * taps + t;
                                    slot[0] = S.Add(slot[0], S.Add(a0, e0));
                                    if (rows > 1) slot[taps] = S.Add(slot[taps], S.Add(a1, e1));
                                    if (rows > 2) slot[2 * taps] = S.Add(slot[2 * taps], S.Add(a2, e2));
                                    if (rows > 3) slot[3 * taps] = S.Add(slot[3 * taps], S.Add(a3, e3));
                                }
                    }
                }
            }
        }
    }
}
