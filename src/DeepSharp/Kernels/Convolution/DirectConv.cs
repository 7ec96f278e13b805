using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// Direct (no im2col) float32 convolution for layers with few input taps per output, such as a first layer on
/// grey images (LeNet's 1x5x5, the "cnn" model's 1x3x3). There the unfolded column block is K times the input
/// and writing it costs more than the arithmetic. Each image is first copied into a zero-bordered scratch whose
/// rows are a whole number of 16-float vectors wider than the output, so the inner loops are plain vector loads
/// with no bounds or masks: for every tap, two 16-column vectors of an input row feed eight accumulators (four
/// output channels x two chunks, enough independent FMA chains to hide their latency). The weight gradient runs
/// the same loops over a zero-padded copy of the output gradient. Stride 1, dilation 1, one group; AVX-512 only
/// (other machines and shapes use im2col).
/// </summary>
internal static unsafe class DirectConv
{
    private const int MaxTaps = 32;
    private const int Lanes = 16;
    private const int Block = 4; // output channels per pass
    private const int MaxScratchFloats = 64 * 1024;

    public static bool Applies<T>(in ConvGeometry g) =>
        typeof(T) == typeof(float) && Avx512F.IsSupported && g.Groups == 1 &&
        g.StrideH == 1 && g.StrideW == 1 && g.DilationH == 1 && g.DilationW == 1 &&
        g.K <= MaxTaps && g.OutW >= 8 && g.KernelW <= Lanes + 1 &&
        (long)g.InChannels * PaddedRows(g) * PaddedWidth(g) <= MaxScratchFloats &&
        (long)g.OutChannels * g.OutH * ChunkWidth(g) <= MaxScratchFloats;

    /// <summary>y[n, o] = sum over taps of w[o, tap] * shifted x[n] (+ bias[o]); images split over the pool.</summary>
    public static void Forward(float* x, float* w, float* bias, float* y, ConvGeometry g)
    {
        var task = new ForwardTask(x, w, bias, y, g);
        if (g.Batch == 1) task.Run(0);
        else WorkerPool.For(g.Batch, task);
    }

    /// <summary>gw[o, tap] = sum over images and positions of gy[n, o] * shifted x[n] (overwritten).</summary>
    public static void BackwardWeight(float* x, float* gy, float* gw, ConvGeometry g, int parts)
    {
        int taps = g.K, outCh = g.OutChannels;
        // One vector accumulator per (part, output channel, tap); parts are fixed, so the sum does not depend on threads.
        var acc = new Vector512<float>[parts * outCh * taps];
        fixed (Vector512<float>* pAcc = acc)
        {
            WorkerPool.For(parts, new WeightTask(x, gy, pAcc, g, parts));
            for (int o = 0; o < outCh; o++)
                for (int t = 0; t < taps; t++)
                {
                    var sum = Vector512<float>.Zero;
                    for (int part = 0; part < parts; part++)
                        sum += pAcc[((long)part * outCh + o) * taps + t];
                    gw[o * taps + t] = Vector512.Sum(sum);
                }
        }
    }

    // Output columns in an even number of 16-wide chunks (the loops take them in pairs).
    private static int ChunkWidth(in ConvGeometry g) => (g.OutW + 2 * Lanes - 1) / (2 * Lanes) * 2 * Lanes;

    // Scratch rows: the padded input height; row stride: every chunk plus the kernel's reach (kw - 1 <= 16).
    private static int PaddedRows(in ConvGeometry g) => g.InH + 2 * g.PadH;

    private static int PaddedWidth(in ConvGeometry g) => ChunkWidth(g) + Lanes;

    [ThreadStatic] private static float[]? t_image;
    [ThreadStatic] private static float[]? t_grad;

    private static float[] Scratch(ref float[]? slot, int length)
    {
        if (slot is null || slot.Length < length) slot = new float[Math.Max(length, 1024)];
        return slot;
    }

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

    private sealed class ForwardTask(float* x, float* w, float* bias, float* y, ConvGeometry g) : IParallelTask
    {
        public void Run(int n)
        {
            int c = g.InChannels, hp = PaddedRows(g), wp = PaddedWidth(g), oh = g.OutH, ow = g.OutW, kh = g.KernelH, kw = g.KernelW, taps = g.K;
            int plane = oh * ow, width = ChunkWidth(g);
            fixed (float* padded = Scratch(ref t_image, c * hp * wp))
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
                        for (int x0 = 0; x0 < width; x0 += 2 * Lanes)
                        {
                            Vector512<float> a0 = Vector512.Create(b0), a1 = Vector512.Create(b1), a2 = Vector512.Create(b2), a3 = Vector512.Create(b3);
                            Vector512<float> e0 = a0, e1 = a1, e2 = a2, e3 = a3;
                            for (int ci = 0; ci < c; ci++)
                                for (int ky = 0; ky < kh; ky++)
                                {
                                    float* row = padded + ((long)ci * hp + oy + ky) * wp + x0;
                                    int t = (ci * kh + ky) * kw;
                                    for (int kx = 0; kx < kw; kx++, t++)
                                    {
                                        var v = Vector512.Load(row + kx);
                                        var u = Vector512.Load(row + kx + Lanes);
                                        var c0 = Vector512.Create(w0[t]);
                                        var c1 = Vector512.Create(w1[t]);
                                        var c2 = Vector512.Create(w2[t]);
                                        var c3 = Vector512.Create(w3[t]);
                                        a0 = Vector512.FusedMultiplyAdd(c0, v, a0); e0 = Vector512.FusedMultiplyAdd(c0, u, e0);
                                        a1 = Vector512.FusedMultiplyAdd(c1, v, a1); e1 = Vector512.FusedMultiplyAdd(c1, u, e1);
                                        a2 = Vector512.FusedMultiplyAdd(c2, v, a2); e2 = Vector512.FusedMultiplyAdd(c2, u, e2);
                                        a3 = Vector512.FusedMultiplyAdd(c3, v, a3); e3 = Vector512.FusedMultiplyAdd(c3, u, e3);
                                    }
                                }
                            float* dst = output + (long)o0 * plane + oy * ow + x0;
                            Store(dst, plane, rows, SimdFma.FirstLanes<float>(ow - x0), a0, a1, a2, a3);
                            if (x0 + Lanes < ow) Store(dst + Lanes, plane, rows, SimdFma.FirstLanes<float>(ow - x0 - Lanes), e0, e1, e2, e3);
                        }
                }
            }
        }

        private static void Store(float* dst, int plane, int rows, Vector512<float> mask, Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3)
        {
            Avx512F.MaskStore(dst, mask, a0);
            if (rows > 1) Avx512F.MaskStore(dst + plane, mask, a1);
            if (rows > 2) Avx512F.MaskStore(dst + 2 * plane, mask, a2);
            if (rows > 3) Avx512F.MaskStore(dst + 3 * plane, mask, a3);
        }
    }

    private sealed class WeightTask(float* x, float* gy, Vector512<float>* acc, ConvGeometry g, int parts) : IParallelTask
    {
        public void Run(int part)
        {
            int c = g.InChannels, hp = PaddedRows(g), wp = PaddedWidth(g), oh = g.OutH, ow = g.OutW, kh = g.KernelH, kw = g.KernelW, taps = g.K;
            int outCh = g.OutChannels, plane = oh * ow, width = ChunkWidth(g);
            Vector512<float>* partAcc = acc + (long)part * outCh * taps;
            new Span<Vector512<float>>(partAcc, outCh * taps).Clear();
            int n0 = (int)((long)g.Batch * part / parts), n1 = (int)((long)g.Batch * (part + 1) / parts);
            fixed (float* padded = Scratch(ref t_image, c * hp * wp), grad = Scratch(ref t_grad, outCh * oh * width))
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
                                    Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                                    Vector512<float> e0 = default, e1 = default, e2 = default, e3 = default;
                                    for (int oy = 0; oy < oh; oy++)
                                    {
                                        float* row = padded + ((long)ci * hp + oy + ky) * wp + kx;
                                        int at = oy * width;
                                        for (int x0 = 0; x0 < width; x0 += 2 * Lanes, at += 2 * Lanes)
                                        {
                                            var v = Vector512.Load(row + x0);
                                            var u = Vector512.Load(row + x0 + Lanes);
                                            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(g0 + at), v, a0);
                                            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(g1 + at), v, a1);
                                            a2 = Vector512.FusedMultiplyAdd(Vector512.Load(g2 + at), v, a2);
                                            a3 = Vector512.FusedMultiplyAdd(Vector512.Load(g3 + at), v, a3);
                                            e0 = Vector512.FusedMultiplyAdd(Vector512.Load(g0 + at + Lanes), u, e0);
                                            e1 = Vector512.FusedMultiplyAdd(Vector512.Load(g1 + at + Lanes), u, e1);
                                            e2 = Vector512.FusedMultiplyAdd(Vector512.Load(g2 + at + Lanes), u, e2);
                                            e3 = Vector512.FusedMultiplyAdd(Vector512.Load(g3 + at + Lanes), u, e3);
                                        }
                                    }
                                    Vector512<float>* slot = partAcc + (long)o0 * taps + t;
                                    slot[0] += a0 + e0;
                                    if (rows > 1) slot[taps] += a1 + e1;
                                    if (rows > 2) slot[2 * taps] += a2 + e2;
                                    if (rows > 3) slot[3 * taps] += a3 + e3;
                                }
                    }
                }
            }
        }
    }
}
