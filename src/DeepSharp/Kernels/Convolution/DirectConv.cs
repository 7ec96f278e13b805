using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// Direct (no im2col) float32 convolution for layers with few input taps per output, such as a first layer on
/// grey images (LeNet's 1x5x5, the "cnn" model's 1x3x3). There the unfolded column block is K times the input
/// and writing it costs more than the arithmetic. Each output row is computed in 16-column vectors: for every
/// tap one masked load of the input row (lanes in the padding are never read and count as zero) feeds four
/// output channels' accumulators. The weight gradient runs the same loops with the roles of output and
/// accumulator swapped. Stride 1, dilation 1, one group; AVX-512 only (other machines use im2col).
/// </summary>
internal static unsafe class DirectConv
{
    private const int MaxTaps = 32;
    private const int Lanes = 16;
    private const int Block = 4; // output channels per pass

    public static bool Applies<T>(in ConvGeometry g) =>
        typeof(T) == typeof(float) && Avx512F.IsSupported && g.Groups == 1 &&
        g.StrideH == 1 && g.StrideW == 1 && g.DilationH == 1 && g.DilationW == 1 &&
        g.K <= MaxTaps && g.OutW >= 8 && g.OutW <= 256 && g.KernelW <= 16 && g.OutChannels <= 256;

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

    // Per 16-column chunk and kx, the input lanes; then per chunk, the output lanes.
    private static int MaskCount(in ConvGeometry g) => (g.OutW + Lanes - 1) / Lanes * (g.KernelW + 1);

    private static void FillMasks(Vector512<float>* masks, in ConvGeometry g)
    {
        int chunks = (g.OutW + Lanes - 1) / Lanes, kw = g.KernelW;
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            for (int kx = 0; kx < kw; kx++)
                masks[chunk * kw + kx] = InputLanes(chunk * Lanes, kx - g.PadW, g.InW, g.OutW);
            masks[chunks * kw + chunk] = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(g.OutW - chunk * Lanes)).AsSingle();
        }
    }

    // Lanes l of the 16-column chunk starting at output column x0 whose input column x0 + l + dx lies in [0, width).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> InputLanes(int x0, int dx, int width, int outW)
    {
        var col = Vector512<int>.Indices + Vector512.Create(x0 + dx);
        var inside = Vector512.GreaterThanOrEqual(col, Vector512<int>.Zero) & Vector512.LessThan(col, Vector512.Create(width));
        return (inside & Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(outW - x0))).AsSingle();
    }

    private sealed class ForwardTask(float* x, float* w, float* bias, float* y, ConvGeometry g) : IParallelTask
    {
        public void Run(int n)
        {
            int c = g.InChannels, h = g.InH, width = g.InW, oh = g.OutH, ow = g.OutW, kh = g.KernelH, kw = g.KernelW, taps = g.K;
            float* image = x + (long)n * c * h * width;
            float* output = y + (long)n * g.OutChannels * oh * ow;
            int plane = oh * ow;
            Vector512<float>* masks = stackalloc Vector512<float>[MaskCount(g)];
            FillMasks(masks, g);
            for (int o0 = 0; o0 < g.OutChannels; o0 += Block)
            {
                int rows = Math.Min(Block, g.OutChannels - o0);
                // Missing channels of the last block reuse channel o0's weights and are not stored.
                float* w0 = w + (long)o0 * taps;
                float* w1 = rows > 1 ? w0 + taps : w0, w2 = rows > 2 ? w0 + 2 * taps : w0, w3 = rows > 3 ? w0 + 3 * taps : w0;
                float b0 = bias is null ? 0 : bias[o0], b1 = bias is null || rows < 2 ? 0 : bias[o0 + 1];
                float b2 = bias is null || rows < 3 ? 0 : bias[o0 + 2], b3 = bias is null || rows < 4 ? 0 : bias[o0 + 3];
                for (int oy = 0; oy < oh; oy++)
                    for (int x0 = 0; x0 < ow; x0 += Lanes)
                    {
                        Vector512<float> a0 = Vector512.Create(b0), a1 = Vector512.Create(b1), a2 = Vector512.Create(b2), a3 = Vector512.Create(b3);
                        for (int ci = 0; ci < c; ci++)
                            for (int ky = 0; ky < kh; ky++)
                            {
                                int iy = oy - g.PadH + ky;
                                if ((uint)iy >= (uint)h) continue;
                                float* row = image + ((long)ci * h + iy) * width;
                                int t = (ci * kh + ky) * kw;
                                for (int kx = 0; kx < kw; kx++, t++)
                                {
                                    int dx = kx - g.PadW;
                                    var v = Avx512F.MaskLoad(row + x0 + dx, masks[x0 / Lanes * kw + kx], Vector512<float>.Zero);
                                    a0 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[t]), v, a0);
                                    a1 = Vector512.FusedMultiplyAdd(Vector512.Create(w1[t]), v, a1);
                                    a2 = Vector512.FusedMultiplyAdd(Vector512.Create(w2[t]), v, a2);
                                    a3 = Vector512.FusedMultiplyAdd(Vector512.Create(w3[t]), v, a3);
                                }
                            }
                        var store = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(ow - x0)).AsSingle();
                        float* dst = output + (long)o0 * plane + oy * ow + x0;
                        Avx512F.MaskStore(dst, store, a0);
                        if (rows > 1) Avx512F.MaskStore(dst + plane, store, a1);
                        if (rows > 2) Avx512F.MaskStore(dst + 2 * plane, store, a2);
                        if (rows > 3) Avx512F.MaskStore(dst + 3 * plane, store, a3);
                    }
            }
        }
    }

    private sealed class WeightTask(float* x, float* gy, Vector512<float>* acc, ConvGeometry g, int parts) : IParallelTask
    {
        public void Run(int part)
        {
            int c = g.InChannels, h = g.InH, width = g.InW, oh = g.OutH, ow = g.OutW, kh = g.KernelH, kw = g.KernelW, taps = g.K;
            int outCh = g.OutChannels, plane = oh * ow;
            Vector512<float>* partAcc = acc + (long)part * outCh * taps;
            Vector512<float>* masks = stackalloc Vector512<float>[MaskCount(g)];
            FillMasks(masks, g);
            new Span<Vector512<float>>(partAcc, outCh * taps).Clear();
            int n0 = (int)((long)g.Batch * part / parts), n1 = (int)((long)g.Batch * (part + 1) / parts);
            for (int n = n0; n < n1; n++)
            {
                float* image = x + (long)n * c * h * width;
                float* grad = gy + (long)n * outCh * plane;
                for (int o0 = 0; o0 < outCh; o0 += Block)
                {
                    int rows = Math.Min(Block, outCh - o0);
                    // Missing channels of the last block read channel o0's gradient and are not accumulated.
                    float* g0 = grad + (long)o0 * plane;
                    float* g1 = rows > 1 ? g0 + plane : g0, g2 = rows > 2 ? g0 + 2 * plane : g0, g3 = rows > 3 ? g0 + 3 * plane : g0;
                    for (int ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++)
                            {
                                int t = (ci * kh + ky) * kw + kx, dx = kx - g.PadW;
                                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                                int oyLo = Math.Max(0, g.PadH - ky), oyHi = Math.Min(oh, h + g.PadH - ky);
                                for (int oy = oyLo; oy < oyHi; oy++)
                                {
                                    float* row = image + ((long)ci * h + oy - g.PadH + ky) * width;
                                    for (int x0 = 0; x0 < ow; x0 += Lanes)
                                    {
                                        var v = Avx512F.MaskLoad(row + x0 + dx, masks[x0 / Lanes * kw + kx], Vector512<float>.Zero);
                                        int at = oy * ow + x0;
                                        var m = masks[(ow + Lanes - 1) / Lanes * kw + x0 / Lanes];
                                        a0 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(g0 + at, m, Vector512<float>.Zero), v, a0);
                                        a1 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(g1 + at, m, Vector512<float>.Zero), v, a1);
                                        a2 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(g2 + at, m, Vector512<float>.Zero), v, a2);
                                        a3 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(g3 + at, m, Vector512<float>.Zero), v, a3);
                                    }
                                }
                                Vector512<float>* slot = partAcc + (long)o0 * taps + t;
                                slot[0] += a0;
                                if (rows > 1) slot[taps] += a1;
                                if (rows > 2) slot[2 * taps] += a2;
                                if (rows > 3) slot[3 * taps] += a3;
                            }
                }
            }
        }
    }
}
