using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// Direct (no im2col) float32 convolution for layers with few input taps per output, such as a first layer on
/// grey images (LeNet's 1x5x5, the "cnn" model's 1x3x3). There the unfolded column block is K times the input
/// and writing it costs more than the arithmetic. Each image is first copied into a zero-bordered scratch whose
/// rows are a whole number of vector pairs wider than the output (plus the kernel's reach), so the inner loops
/// are plain vector loads with no bounds or masks: for every tap, two vectors of an input row feed two accumulators
/// for each of up to eight output channels (four where there are 16 vector registers), enough independent FMA chains
/// to hide their latency; a block of fewer channels (LeNet's six) computes only those. The
/// weight gradient runs the same loops over the output gradient in place, each row's last vectors through masked
/// loads (zeros past the row). Stride 1, dilation 1,
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

    /// <summary>
    /// y[n, o] = sum over taps of w[o, tap] * shifted x[n] (+ bias[o]), max(y, 0) when relu; images split over the pool.
    /// With <paramref name="blocked"/> (the output's shape, whose blocks have as many lanes as the running vector), y is
    /// written in the channel-blocked layout of <see cref="BlockedConv"/>: each image is computed into a scratch and laid
    /// out while it is still in cache, instead of in a pass over the whole batch after it. With <paramref name="maxPool"/>
    /// (over the image's output channels), y is the max-pooled output, pooled the same way from the scratch.
    /// </summary>
    public static void Forward(float* x, float* w, float* bias, float* y, ConvGeometry g, bool relu = false, BlockedShape? blocked = null,
        PoolGeometry? maxPool = null)
    {
        int lanes = BlockedConv.Lanes; // the blocks' lanes: the running vector's
        if (blocked is { } bs && (bs.Channels != g.OutChannels || bs.H != g.OutH || bs.W != g.OutW || g.OutChannels % lanes != 0))
            throw new ArgumentException($"DirectConv: a blocked output of {bs} does not hold {g.OutChannels} channels of {g.OutH}x{g.OutW} in blocks of {lanes}");
        if (maxPool is { } mp && (blocked is not null || mp.Planes != g.OutChannels || mp.InH != g.OutH || mp.InW != g.OutW))
            throw new ArgumentException($"DirectConv: a max pool over {mp.Planes} planes of {mp.InH}x{mp.InW} does not follow {g.OutChannels} channels of {g.OutH}x{g.OutW}" +
                (blocked is null ? "" : " written blocked"));
        switch (SimdWidth.Current)
        {
            case 512: DirectConv<Vector512<float>, Simd512<float>>.Forward(x, w, bias, y, g, relu, blocked, maxPool); break;
            case 256: DirectConv<Vector256<float>, Simd256<float>>.Forward(x, w, bias, y, g, relu, blocked, maxPool); break;
            default: DirectConv<Vector128<float>, Simd128<float>>.Forward(x, w, bias, y, g, relu, blocked, maxPool); break;
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
    private const int Block = 4; // output channels per pass of the weight gradient

    public static void Forward(float* x, float* w, float* bias, float* y, ConvGeometry g, bool relu, BlockedShape? blocked, PoolGeometry? maxPool)
    {
        // Each block's weights tap-major, its channels' weights for one tap side by side, so that a tap's broadcasts read
        // consecutive floats; packed once per call into this thread's scratch, which the pool's threads read until For returns.
        int taps = g.K, block = ForwardRows;
        float* packed = Pin(DirectConv.Scratch(ref t_weights, (long)g.OutChannels * taps));
        for (int o0 = 0; o0 < g.OutChannels; o0 += block)
        {
            int rows = Math.Min(block, g.OutChannels - o0);
            for (int i = 0; i < rows; i++)
                for (int t = 0; t < taps; t++)
                    packed[(long)o0 * taps + t * rows + i] = w[(long)(o0 + i) * taps + t];
        }
        var task = new ForwardTask(x, packed, bias, y, g, relu, blocked, maxPool);
        if (g.Batch == 1) task.Run(0);
        else WorkerPool.For(g.Batch, task);
    }

    // Scratch arrays are pinned (allocated on the pinned heap): the pointer outlives the fixed-free access.
    private static float* Pin(float[] array) => (float*)Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(array));

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
    [ThreadStatic] private static float[]? t_weights;
    [ThreadStatic] private static float[]? t_output; // one image's NCHW output on its way to the blocked layout or a max pool


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

    private sealed class ForwardTask(float* x, float* packedW, float* bias, float* y, ConvGeometry g, bool relu, BlockedShape? blocked, PoolGeometry? maxPool) : IParallelTask
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int n)
        {
            int c = g.InChannels, hp = PaddedRows(g), wp = PaddedWidth(g), taps = g.K, plane = g.OutH * g.OutW;
            fixed (float* padded = DirectConv.Scratch(ref t_image, c * hp * wp),
                   image = blocked is null && maxPool is null ? null : DirectConv.Scratch(ref t_output, (long)g.OutChannels * plane))
            {
                PadImage(x, n, g, padded);
                float* output = image is null ? y + (long)n * g.OutChannels * plane : image;
                int block = ForwardRows;
                for (int o0 = 0; o0 < g.OutChannels; o0 += block)
                {
                    var pass = new Pass(padded, packedW + (long)o0 * taps, bias is null ? null : bias + o0, output + (long)o0 * plane, hp, wp, relu);
                    switch (Math.Min(block, g.OutChannels - o0))
                    {
                        case 1: Channels<Rows1>(pass, g); break;
                        case 2: Channels<Rows2>(pass, g); break;
                        case 3: Channels<Rows3>(pass, g); break;
                        case 4: Channels<Rows4>(pass, g); break;
                        case 5: Channels<Rows5>(pass, g); break;
                        case 6: Channels<Rows6>(pass, g); break;
                        case 7: Channels<Rows7>(pass, g); break;
                        default: Channels<Rows8>(pass, g); break;
                    }
                }
                if (blocked is { } bs)
                    BlockedConv.LayOut(image, y + n * bs.ImagePitch, bs, Lanes, 0, g.OutChannels / Lanes);
                if (maxPool is { } mp)
                {
                    long pooled = (long)g.OutChannels * mp.OutH * mp.OutW;
                    Pooling.MaxForward<float>(new ReadOnlySpan<float>(image, g.OutChannels * plane), new Span<float>(y + n * pooled, (int)pooled), [], mp, 0, g.OutChannels);
                }
            }
        }

        /// <summary>
        /// R output channels (weights packed tap-major, R per tap) x two vectors per register tile: every tap's two input
        /// loads feed 2R FMAs. Only the block's own channels are computed and stored.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Channels<R>(in Pass pass, in ConvGeometry g) where R : struct, IRowCount
        {
            int r = R.Value, c = g.InChannels, oh = g.OutH, ow = g.OutW, kh = g.KernelH, kw = g.KernelW, taps = g.K;
            int plane = oh * ow, width = ChunkWidth(g), lanes = Lanes, hp = pass.Hp, wp = pass.Wp;
            float* bias = pass.Bias;
            for (int oy = 0; oy < oh; oy++)
                for (int x0 = 0; x0 < width; x0 += 2 * lanes)
                {
                    TV a0 = Start(bias, 0), a1 = Start<R>(bias, 1), a2 = Start<R>(bias, 2), a3 = Start<R>(bias, 3);
                    TV a4 = Start<R>(bias, 4), a5 = Start<R>(bias, 5), a6 = Start<R>(bias, 6), a7 = Start<R>(bias, 7);
                    TV e0 = a0, e1 = a1, e2 = a2, e3 = a3, e4 = a4, e5 = a5, e6 = a6, e7 = a7;
                    float* kt = pass.W; // this block's weights, R per tap (packed by Forward)
                    for (int ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < kh; ky++)
                        {
                            float* row = pass.Padded + ((long)ci * hp + oy + ky) * wp + x0;
                            for (int kx = 0; kx < kw; kx++, kt += r)
                            {
                                TV v = S.Load(row + kx), u = S.Load(row + kx + lanes), q;
                                q = S.Splat(kt[0]); a0 = S.Fma(q, v, a0); e0 = S.Fma(q, u, e0);
                                if (R.Value > 1) { q = S.Splat(kt[1]); a1 = S.Fma(q, v, a1); e1 = S.Fma(q, u, e1); }
                                if (R.Value > 2) { q = S.Splat(kt[2]); a2 = S.Fma(q, v, a2); e2 = S.Fma(q, u, e2); }
                                if (R.Value > 3) { q = S.Splat(kt[3]); a3 = S.Fma(q, v, a3); e3 = S.Fma(q, u, e3); }
                                if (R.Value > 4) { q = S.Splat(kt[4]); a4 = S.Fma(q, v, a4); e4 = S.Fma(q, u, e4); }
                                if (R.Value > 5) { q = S.Splat(kt[5]); a5 = S.Fma(q, v, a5); e5 = S.Fma(q, u, e5); }
                                if (R.Value > 6) { q = S.Splat(kt[6]); a6 = S.Fma(q, v, a6); e6 = S.Fma(q, u, e6); }
                                if (R.Value > 7) { q = S.Splat(kt[7]); a7 = S.Fma(q, v, a7); e7 = S.Fma(q, u, e7); }
                            }
                        }
                    float* dst = pass.Output + oy * ow + x0;
                    int count = ow - x0;
                    Store(dst, count, a0, e0, pass.Relu);
                    if (R.Value > 1) Store(dst + plane, count, a1, e1, pass.Relu);
                    if (R.Value > 2) Store(dst + 2 * plane, count, a2, e2, pass.Relu);
                    if (R.Value > 3) Store(dst + 3 * plane, count, a3, e3, pass.Relu);
                    if (R.Value > 4) Store(dst + 4 * plane, count, a4, e4, pass.Relu);
                    if (R.Value > 5) Store(dst + 5 * plane, count, a5, e5, pass.Relu);
                    if (R.Value > 6) Store(dst + 6 * plane, count, a6, e6, pass.Relu);
                    if (R.Value > 7) Store(dst + 7 * plane, count, a7, e7, pass.Relu);
                }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static TV Start(float* bias, int i) => bias is null ? S.Zero : S.Splat(bias[i]);

        // Channel i's starting value where the block has it (the others stay zero and are never used).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static TV Start<R>(float* bias, int i) where R : struct, IRowCount => R.Value > i ? Start(bias, i) : S.Zero;

        // The two vectors of one output row's chunk pair, through ReLU when fused (IEEE maximum keeps NaN, as relu),
        // stored up to the row's end.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(float* dst, int count, TV a, TV e, bool relu)
        {
            if (relu)
            {
                a = S.Max(a, S.Zero);
                e = S.Max(e, S.Zero);
            }
            int lanes = S.Count;
            if (count >= lanes) S.Store(a, dst);
            else S.StoreFirst(a, dst, count);
            if (count >= 2 * lanes) S.Store(e, dst + lanes);
            else if (count > lanes) S.StoreFirst(e, dst + lanes, count - lanes);
        }
    }

    /// <summary>What one block of output channels of one image reads and writes (W: the block's packed weights).</summary>
    private readonly struct Pass(float* padded, float* w, float* bias, float* output, int hp, int wp, bool relu)
    {
        public readonly float* Padded = padded, W = w, Bias = bias, Output = output;
        public readonly int Hp = hp, Wp = wp;
        public readonly bool Relu = relu;
    }

    // Output channels per forward pass: 8 x 2 vectors of accumulators where there are 32 vector registers, 4 x 2 where 16.
    private static int ForwardRows => SimdWidth.VectorRegisters >= 32 ? 8 : 4;

    private sealed class WeightTask(float* x, float* gy, TV* acc, ConvGeometry g, int parts) : IParallelTask
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int part)
        {
            int c = g.InChannels, hp = PaddedRows(g), wp = PaddedWidth(g), oh = g.OutH, ow = g.OutW, kh = g.KernelH, kw = g.KernelW, taps = g.K;
            int outCh = g.OutChannels, plane = oh * ow, lanes = Lanes;
            TV* partAcc = acc + (long)part * outCh * taps;
            new Span<TV>(partAcc, outCh * taps).Clear();
            int n0 = (int)((long)g.Batch * part / parts), n1 = (int)((long)g.Batch * (part + 1) / parts);
            // The output gradient is read in place, each row's last vectors through masked loads (zeros past the row,
            // which the padded input's columns there then multiply): a copy of it into rows of whole vectors, a short
            // memmove per row, took 40 % of this pass.
            int whole = ow - ow % (2 * lanes), rest = ow - whole, firstRest = Math.Min(rest, lanes), secondRest = rest - firstRest;
            fixed (float* padded = DirectConv.Scratch(ref t_image, c * hp * wp))
            {
                for (int n = n0; n < n1; n++)
                {
                    PadImage(x, n, g, padded);
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
                                    int t = (ci * kh + ky) * kw + kx;
                                    TV a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero;
                                    TV e0 = S.Zero, e1 = S.Zero, e2 = S.Zero, e3 = S.Zero;
                                    for (int oy = 0; oy < oh; oy++)
                                    {
                                        float* row = padded + ((long)ci * hp + oy + ky) * wp + kx;
                                        int at = oy * ow, x0 = 0;
                                        for (; x0 < whole; x0 += 2 * lanes, at += 2 * lanes)
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
                                        if (rest == 0) continue;
                                        TV w0 = S.Load(row + x0);
                                        a0 = S.Fma(S.LoadFirst(g0 + at, firstRest), w0, a0);
                                        a1 = S.Fma(S.LoadFirst(g1 + at, firstRest), w0, a1);
                                        a2 = S.Fma(S.LoadFirst(g2 + at, firstRest), w0, a2);
                                        a3 = S.Fma(S.LoadFirst(g3 + at, firstRest), w0, a3);
                                        if (secondRest == 0) continue;
                                        TV w1 = S.Load(row + x0 + lanes);
                                        e0 = S.Fma(S.LoadFirst(g0 + at + lanes, secondRest), w1, e0);
                                        e1 = S.Fma(S.LoadFirst(g1 + at + lanes, secondRest), w1, e1);
                                        e2 = S.Fma(S.LoadFirst(g2 + at + lanes, secondRest), w1, e2);
                                        e3 = S.Fma(S.LoadFirst(g3 + at + lanes, secondRest), w1, e3);
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
