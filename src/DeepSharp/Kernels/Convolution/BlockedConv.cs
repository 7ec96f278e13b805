using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// An activation in the channel-blocked layout of <see cref="BlockedConv"/>: per image, blocks of L channels (L the
/// lanes of the running vector width), each block a grid of (H + 2) x (W + 2) positions (the image inside a ring of
/// zeros one position wide) holding its L channels' floats side by side. <see cref="Channels"/> is a multiple of L.
/// </summary>
internal readonly record struct BlockedShape(int Channels, int H, int W)
{
    public int RowPitch(int lanes) => (W + 2) * lanes;

    public long BlockPitch(int lanes) => (long)(H + 2) * RowPitch(lanes);

    public long ImagePitch => (long)Channels * (H + 2) * (W + 2);

    public long Floats(int batch) => batch * ImagePitch;

    /// <summary>Where channel c of pixel (y, x) of image n is (y and x from -1 to H and W: the ring).</summary>
    public long Offset(int n, int c, int y, int x, int lanes) => n * ImagePitch + c / lanes * BlockPitch(lanes) + (y + 1) * RowPitch(lanes) + (x + 1) * lanes + c % lanes;
}

/// <summary>
/// Direct float32 convolution in the channel-blocked layout (see <see cref="BlockedShape"/>), for the inference plan's
/// convolutions with 2 L or more output channels (ResNet's 32- and 64-channel stages; L = 16 with AVX-512). A register
/// tile holds one or two vectors of output channels at up to 28 (14) consecutive positions of one output row: each input
/// float, broadcast, feeds one or two FMAs, each weight vector a whole row, and only real positions are computed (the
/// flat kernel computes the zero borders of its layout too: a sixth of the work on 28, 14 and 7-wide images).
/// The input is blocked, or a flat value (<see cref="FlatShape"/>: planes per channel, read a float at a time the same
/// way); the output is blocked, its ring zeroed, with the bias, a blocked residual and the ReLU added as it is stored.
/// </summary>
internal static unsafe class BlockedConv
{
    /// <summary>Lanes (channels per block) at the running vector width.</summary>
    public static int Lanes => SimdWidth.Current / 32;

    /// <summary>
    /// Whether the kernel takes this float32 convolution: square kernel up to 3x3, stride 1 or 2, padding up to 1 (what
    /// the ring holds), channels in whole blocks.
    /// </summary>
    public static bool Applies(in ConvGeometry g)
    {
        if (SimdWidth.Current < 128) return false;
        int lanes = Lanes;
        return g.Groups == 1 && g.DilationH == 1 && g.DilationW == 1 && g.KernelH == g.KernelW && g.KernelH <= 3 &&
               g.StrideH == g.StrideW && g.StrideH <= 2 && g.PadH == g.PadW && g.PadH <= 1 && g.PadH < g.KernelH &&
               g.InChannels % lanes == 0 && g.OutChannels % lanes == 0 && g.OutH > 0 && g.OutW > 0;
    }

    /// <summary>Whether the kernel reads a flat input of this shape in place: its borders hold the padding the taps reach.</summary>
    public static bool Reads(FlatShape shape, in ConvGeometry g) => shape.PadH >= g.PadH && shape.PadW >= g.PadW;

    /// <summary>Output vectors per register tile: two where the blocks pair up.</summary>
    internal static int TileVectors(in ConvGeometry g) => g.OutChannels / Lanes % 2 == 0 ? 2 : 1;

    /// <summary>
    /// Weights [O, C, k, k] as groups of <see cref="TileVectors"/> output blocks, each [input block][tap][input channel]
    /// [output channel of the group]: a tile's weight vectors for one input channel and tap are adjacent.
    /// </summary>
    public static float[] PackWeights(float* w, in ConvGeometry g)
    {
        int lanes = Lanes, group = TileVectors(g) * lanes, taps = g.KernelH * g.KernelW, c = g.InChannels;
        var packed = new float[checked(g.OutChannels * c * taps)];
        for (int o = 0; o < g.OutChannels; o++)
            for (int ch = 0; ch < c; ch++)
                for (int t = 0; t < taps; t++)
                    packed[((((long)(o / group) * (c / lanes) + ch / lanes) * taps + t) * lanes + ch % lanes) * group + o % group] = w[((long)o * c + ch) * taps + t];
        return packed;
    }

    /// <summary>
    /// y = conv(x) + bias (+ residual), through max(v, 0) when relu; x blocked (<paramref name="xb"/>) or flat
    /// (<paramref name="xf"/>), y and the residual blocked of <paramref name="ys"/>. <paramref name="bias"/> has one float per output channel.
    /// </summary>
    public static void Forward(float* x, BlockedShape? xb, FlatShape? xf, float* packed, float* bias, float* y, BlockedShape ys, ConvGeometry g, bool relu, float* residual)
    {
        switch (SimdWidth.Current)
        {
            case 512: BlockedConv<Vector512<float>, Simd512<float>>.Forward(x, xb, xf, packed, bias, y, ys, g, relu, residual); break;
            case 256: BlockedConv<Vector256<float>, Simd256<float>>.Forward(x, xb, xf, packed, bias, y, ys, g, relu, residual); break;
            default: BlockedConv<Vector128<float>, Simd128<float>>.Forward(x, xb, xf, packed, bias, y, ys, g, relu, residual); break;
        }
    }

    /// <summary>NCHW x ([batch, Channels, H, W]) into the blocked layout, ring zeroed; blocks split over the pool from 32K floats.</summary>
    public static void ToBlocked(float* x, float* y, BlockedShape s, int batch)
    {
        int lanes = Lanes; // read on the calling thread (a forced width is per thread)
        var task = new ToBlockedTask(x, y, s, lanes, batch * (s.Channels / lanes));
        task.Parts = s.Floats(batch) >= 1 << 15 ? Math.Min(WorkerPool.Threads, task.Blocks) : 1;
        if (task.Parts <= 1) task.Run(0);
        else WorkerPool.For(task.Parts, task);
    }

    private sealed class ToBlockedTask(float* x, float* y, BlockedShape s, int lanes, int blocks) : IParallelTask
    {
        public readonly int Blocks = blocks; // images x channel blocks
        public int Parts { get; set; } = 1;

        public void Run(int part)
        {
            var (b0, b1) = WorkerPool.Range(part, Parts, Blocks, 1);
            LayOut(x, y, s, lanes, b0, b1);
        }
    }

    /// <summary>
    /// Blocks [b0, b1) of NCHW x (counted over images and channel blocks) into the blocked y, ring zeroed. Writes run
    /// forward through each block; the L channels of a row are read side by side.
    /// </summary>
    internal static void LayOut(float* x, float* y, BlockedShape s, int lanes, int b0, int b1)
    {
        int rowPitch = s.RowPitch(lanes), plane = s.H * s.W;
        for (int b = b0; b < b1; b++)
        {
            float* dst = y + b * s.BlockPitch(lanes), src = x + (long)b * lanes * plane;
            new Span<float>(dst, rowPitch + lanes).Clear(); // the ring's top row and the first row's left end
            for (int r = 0; r < s.H; r++)
            {
                float* to = dst + (r + 1) * rowPitch + lanes;
                for (int col = 0; col < s.W; col++, to += lanes)
                    for (int c = 0; c < lanes; c++) to[c] = src[c * plane + r * s.W + col];
                new Span<float>(to, 2 * lanes).Clear(); // this row's right end and the next row's left end
            }
            new Span<float>(dst + (s.H + 1) * rowPitch + lanes, rowPitch - lanes).Clear(); // the rest of the bottom row
        }
    }

    /// <summary>The blocked x back to NCHW y ([batch, Channels, H, W]).</summary>
    public static void FromBlocked(float* x, float* y, BlockedShape s, int batch)
    {
        int lanes = Lanes;
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < s.Channels; c++)
            {
                float* src = x + s.Offset(n, c, 0, 0, lanes);
                float* dst = y + ((long)n * s.Channels + c) * s.H * s.W;
                for (int r = 0; r < s.H; r++, src += s.RowPitch(lanes))
                    for (int col = 0; col < s.W; col++) *dst++ = src[col * lanes];
            }
    }
}

/// <summary><see cref="BlockedConv"/> at one vector width.</summary>
internal static unsafe class BlockedConv<TV, S> where TV : unmanaged where S : ISimd<TV, float>
{
    /// <summary>What every tile of one call shares.</summary>
    private struct Job
    {
        public int InBlocks, Taps, ChannelPitch; // input blocks, taps per channel, floats between input channels of a block
        public int K;                            // kernel size (taps are ky-major)
        public int KyBegin, KyEnd;               // the kernel rows that reach inside the image from this output row
        public int SkipFirstBelow, SkipLastFrom; // kernel columns that reach into the padding from the tile's first, last position
        public long InBlockPitch, OutBlockPitch;
        public int* TapOffsets;                  // per tap, where it reads relative to the output position's input
        public float* Bias;                      // of the tile's output channels
        public bool Relu;
    }

    public static void Forward(float* x, BlockedShape? xb, FlatShape? xf, float* packed, float* bias, float* y, BlockedShape ys, ConvGeometry g, bool relu, float* residual)
    {
        if (g.Batch == 0) return;
        int lanes = S.Count;
        // Where image 0's input pixel (0, 0) is, and the pitches of images, rows and columns (blocked or flat input).
        float* origin;
        long imagePitch, blockPitch;
        int rowPitch, column, channelPitch;
        if (xb is { } b)
        {
            origin = x + b.Offset(0, 0, 0, 0, lanes);
            (imagePitch, blockPitch, rowPitch, column, channelPitch) = (b.ImagePitch, b.BlockPitch(lanes), b.RowPitch(lanes), lanes, 1);
        }
        else
        {
            var f = xf!.Value.Layout(g.Batch, lanes);
            origin = x + f.Origin;
            (imagePitch, blockPitch, rowPitch, column, channelPitch) = ((long)f.ImagePitch, (long)lanes * f.ChannelLength, f.RowStride, 1, f.ChannelLength);
        }
        int k = g.KernelH, taps = k * k;
        int* offsets = stackalloc int[taps]; // read by the pool's threads until For returns
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
                offsets[ky * k + kx] = (ky - g.PadH) * rowPitch + (kx - g.PadW) * column;
        var task = new RowTask
        {
            Origin = origin, ImagePitch = imagePitch, RowStep = g.StrideH * rowPitch, Column = column,
            W = packed, Bias = bias, Y = y, Residual = residual, Out = ys, G = g, Vectors = BlockedConv.TileVectors(g),
            Job = new Job { InBlocks = g.InChannels / lanes, Taps = taps, K = k, ChannelPitch = channelPitch, InBlockPitch = blockPitch, OutBlockPitch = ys.BlockPitch(lanes), TapOffsets = offsets, Relu = relu },
        };
        task.Groups = g.OutChannels / lanes / task.Vectors;
        task.Rows = g.Batch * task.Groups * g.OutH;
        task.Parts = Math.Min(WorkerPool.Threads, task.Rows);
        if (task.Parts == 1) task.Run(0);
        else WorkerPool.For(task.Parts, task);
    }

    /// <summary>Output rows (image, group of output blocks, row) split over the pool; each also zeroes its part of the output's ring.</summary>
    private sealed class RowTask : IParallelTask
    {
        public float* Origin, W, Bias, Y, Residual;
        public long ImagePitch;
        public int RowStep, Column, Vectors, Groups, Rows, Parts;
        public BlockedShape Out;
        public ConvGeometry G;
        public Job Job;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int part)
        {
            int lanes = S.Count, oh = G.OutH, ow = G.OutW, step = G.StrideW * Column;
            var (r0, r1) = WorkerPool.Range(part, Parts, Rows, 1);
            // Positions per tile: as many as the registers hold, the row cut into near-equal tiles.
            bool wide = SimdWidth.VectorRegisters >= 32;
            int most = Vectors == 2 ? (wide ? 14 : 6) : (wide ? 28 : 12);
            int tiles = (ow + most - 1) / most;
            long groupFloats = (long)Vectors * lanes * G.InChannels * G.KernelH * G.KernelW;
            long outBlock = Out.BlockPitch(lanes), outRow = Out.RowPitch(lanes);
            var job = Job;
            int k = G.KernelH, pad = G.PadH, stride = G.StrideH;
            for (int r = r0; r < r1; r++)
            {
                int oy = r % oh, group = r / oh % Groups, n = r / oh / Groups;
                // Only the kernel rows and columns that reach inside the image are computed: the padding adds zeros
                // (a sixth of the taps of a 3x3 layer on 7x7, a tenth on 14x14).
                job.KyBegin = Math.Max(0, pad - oy * stride);
                job.KyEnd = Math.Min(k, G.InH + pad - oy * stride);
                float* src = Origin + n * ImagePitch + (long)oy * RowStep;
                float* w = W + group * groupFloats;
                job.Bias = Bias + group * Vectors * lanes;
                long rowAt = n * Out.ImagePitch + (long)group * Vectors * outBlock + (oy + 1) * outRow;
                ClearRing(Y + rowAt, oy, oh, ow, outBlock, outRow);
                for (int t = 0, ox = 0; t < tiles; t++)
                {
                    int p = ow / tiles + (t < ow % tiles ? 1 : 0);
                    // With padding of at most 1 (and stride at least 1) only a row's first and last positions reach
                    // into it, each with one kernel column.
                    job.SkipFirstBelow = ox == 0 ? pad : 0;
                    job.SkipLastFrom = Math.Clamp(G.InW + pad - (ox + p - 1) * stride, 0, k);
                    long at = rowAt + (ox + 1) * lanes;
                    float* res = Residual is null ? null : Residual + at;
                    float* from = src + (long)ox * step;
                    Row(job, Vectors, step, p, from, w, Y + at, res);
                    ox += p;
                }
            }
        }

        /// <summary>The ring around one output row of a tile's blocks: its two ends, and the row above or below when it is the first or last.</summary>
        private void ClearRing(float* row, int oy, int oh, int ow, long outBlock, long outRow)
        {
            int lanes = S.Count;
            for (int v = 0; v < Vectors; v++)
            {
                float* at = row + v * outBlock;
                S.Store(S.Zero, at);
                S.Store(S.Zero, at + (ow + 1) * lanes);
                if (oy == 0) new Span<float>(at - outRow, (int)outRow).Clear();
                if (oy == oh - 1) new Span<float>(at + outRow, (int)outRow).Clear();
            }
        }
    }

    private static void Row(in Job j, int vectors, int step, int p, float* src, float* w, float* dst, float* res)
    {
        switch (step)
        {
            case 1: Row<Rows1>(j, vectors, p, src, w, dst, res); break;
            case 2: Row<Rows2>(j, vectors, p, src, w, dst, res); break;
            case 4: Row<Rows4>(j, vectors, p, src, w, dst, res); break;
            case 8: Row<Rows8>(j, vectors, p, src, w, dst, res); break;
            case 16: Row<Rows16>(j, vectors, p, src, w, dst, res); break;
            default: Row<Rows32>(j, vectors, p, src, w, dst, res); break;
        }
    }

    private static void Row<TQ>(in Job j, int vectors, int p, float* src, float* w, float* dst, float* res) where TQ : struct, IRowCount
    {
        if (vectors == 2) Row2<TQ>(j, p, src, w, dst, res);
        else Row1<TQ>(j, p, src, w, dst, res);
    }

    /// <summary>One vector at output offset <paramref name="at"/>: plus the residual, then the ReLU (IEEE maximum keeps NaN, as relu does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(in Job j, float* dst, float* res, long at, TV a)
    {
        if (res != null) a = S.Add(a, S.Load(res + at));
        if (j.Relu) a = S.Max(a, S.Zero);
        S.Store(a, dst + at);
    }

    // The tiles below are written out position by position (guarded by the compile-time count TP) so that the JIT keeps
    // every accumulator in a register; TQ is the compile-time distance between the inputs of neighbouring positions.
    // Each has its input-channel loop three times (every position, all but the first, all but the last), chosen per tap:
    // a skip flag tested inside the loop would branch at every FMA it guards and mispredict where the taps change.

    /// <summary>Output channels of one vector (L channels) at TP.Value consecutive positions of one output row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1<TP, TQ>(in Job j, float* src, float* w, float* dst, float* res) where TP : struct, IRowCount where TQ : struct, IRowCount
    {
        int lanes = S.Count;
        TV bias0 = S.Load(j.Bias + 0 * lanes);
        TV a0_0 = bias0;
        TV a0_1 = TP.Value > 1 ? bias0 : default;
        TV a0_2 = TP.Value > 2 ? bias0 : default;
        TV a0_3 = TP.Value > 3 ? bias0 : default;
        TV a0_4 = TP.Value > 4 ? bias0 : default;
        TV a0_5 = TP.Value > 5 ? bias0 : default;
        TV a0_6 = TP.Value > 6 ? bias0 : default;
        TV a0_7 = TP.Value > 7 ? bias0 : default;
        TV a0_8 = TP.Value > 8 ? bias0 : default;
        TV a0_9 = TP.Value > 9 ? bias0 : default;
        TV a0_10 = TP.Value > 10 ? bias0 : default;
        TV a0_11 = TP.Value > 11 ? bias0 : default;
        TV a0_12 = TP.Value > 12 ? bias0 : default;
        TV a0_13 = TP.Value > 13 ? bias0 : default;
        TV a0_14 = TP.Value > 14 ? bias0 : default;
        TV a0_15 = TP.Value > 15 ? bias0 : default;
        TV a0_16 = TP.Value > 16 ? bias0 : default;
        TV a0_17 = TP.Value > 17 ? bias0 : default;
        TV a0_18 = TP.Value > 18 ? bias0 : default;
        TV a0_19 = TP.Value > 19 ? bias0 : default;
        TV a0_20 = TP.Value > 20 ? bias0 : default;
        TV a0_21 = TP.Value > 21 ? bias0 : default;
        TV a0_22 = TP.Value > 22 ? bias0 : default;
        TV a0_23 = TP.Value > 23 ? bias0 : default;
        TV a0_24 = TP.Value > 24 ? bias0 : default;
        TV a0_25 = TP.Value > 25 ? bias0 : default;
        TV a0_26 = TP.Value > 26 ? bias0 : default;
        TV a0_27 = TP.Value > 27 ? bias0 : default;
        for (int icb = 0; icb < j.InBlocks; icb++)
            for (int ky = j.KyBegin; ky < j.KyEnd; ky++)
                for (int kx = 0; kx < j.K; kx++)
                {
                    int t = ky * j.K + kx;
                    float* x = src + icb * j.InBlockPitch + j.TapOffsets[t];
                    float* wt = w + (long)(icb * j.Taps + t) * lanes * 1 * lanes;
                    // A tap that reaches into the padding for the row's first or last position skips that position.
                    if (kx < j.SkipFirstBelow)
                    {
                        if (TP.Value == 1) continue;
                        for (int ic = 0; ic < lanes; ic++, x += j.ChannelPitch, wt += 1 * lanes)
                        {
                            TV w0 = S.Load(wt + 0 * lanes);
                            if (TP.Value > 1) a0_1 = S.Fma(S.Splat(x[1 * TQ.Value]), w0, a0_1);
                            if (TP.Value > 2) a0_2 = S.Fma(S.Splat(x[2 * TQ.Value]), w0, a0_2);
                            if (TP.Value > 3) a0_3 = S.Fma(S.Splat(x[3 * TQ.Value]), w0, a0_3);
                            if (TP.Value > 4) a0_4 = S.Fma(S.Splat(x[4 * TQ.Value]), w0, a0_4);
                            if (TP.Value > 5) a0_5 = S.Fma(S.Splat(x[5 * TQ.Value]), w0, a0_5);
                            if (TP.Value > 6) a0_6 = S.Fma(S.Splat(x[6 * TQ.Value]), w0, a0_6);
                            if (TP.Value > 7) a0_7 = S.Fma(S.Splat(x[7 * TQ.Value]), w0, a0_7);
                            if (TP.Value > 8) a0_8 = S.Fma(S.Splat(x[8 * TQ.Value]), w0, a0_8);
                            if (TP.Value > 9) a0_9 = S.Fma(S.Splat(x[9 * TQ.Value]), w0, a0_9);
                            if (TP.Value > 10) a0_10 = S.Fma(S.Splat(x[10 * TQ.Value]), w0, a0_10);
                            if (TP.Value > 11) a0_11 = S.Fma(S.Splat(x[11 * TQ.Value]), w0, a0_11);
                            if (TP.Value > 12) a0_12 = S.Fma(S.Splat(x[12 * TQ.Value]), w0, a0_12);
                            if (TP.Value > 13) a0_13 = S.Fma(S.Splat(x[13 * TQ.Value]), w0, a0_13);
                            if (TP.Value > 14) a0_14 = S.Fma(S.Splat(x[14 * TQ.Value]), w0, a0_14);
                            if (TP.Value > 15) a0_15 = S.Fma(S.Splat(x[15 * TQ.Value]), w0, a0_15);
                            if (TP.Value > 16) a0_16 = S.Fma(S.Splat(x[16 * TQ.Value]), w0, a0_16);
                            if (TP.Value > 17) a0_17 = S.Fma(S.Splat(x[17 * TQ.Value]), w0, a0_17);
                            if (TP.Value > 18) a0_18 = S.Fma(S.Splat(x[18 * TQ.Value]), w0, a0_18);
                            if (TP.Value > 19) a0_19 = S.Fma(S.Splat(x[19 * TQ.Value]), w0, a0_19);
                            if (TP.Value > 20) a0_20 = S.Fma(S.Splat(x[20 * TQ.Value]), w0, a0_20);
                            if (TP.Value > 21) a0_21 = S.Fma(S.Splat(x[21 * TQ.Value]), w0, a0_21);
                            if (TP.Value > 22) a0_22 = S.Fma(S.Splat(x[22 * TQ.Value]), w0, a0_22);
                            if (TP.Value > 23) a0_23 = S.Fma(S.Splat(x[23 * TQ.Value]), w0, a0_23);
                            if (TP.Value > 24) a0_24 = S.Fma(S.Splat(x[24 * TQ.Value]), w0, a0_24);
                            if (TP.Value > 25) a0_25 = S.Fma(S.Splat(x[25 * TQ.Value]), w0, a0_25);
                            if (TP.Value > 26) a0_26 = S.Fma(S.Splat(x[26 * TQ.Value]), w0, a0_26);
                            if (TP.Value > 27) a0_27 = S.Fma(S.Splat(x[27 * TQ.Value]), w0, a0_27);
                        }
                    }
                    else if (kx >= j.SkipLastFrom)
                    {
                        if (TP.Value == 1) continue;
                        for (int ic = 0; ic < lanes; ic++, x += j.ChannelPitch, wt += 1 * lanes)
                        {
                            TV w0 = S.Load(wt + 0 * lanes);
                            if (TP.Value > 1) a0_0 = S.Fma(S.Splat(x[0 * TQ.Value]), w0, a0_0);
                            if (TP.Value > 2) a0_1 = S.Fma(S.Splat(x[1 * TQ.Value]), w0, a0_1);
                            if (TP.Value > 3) a0_2 = S.Fma(S.Splat(x[2 * TQ.Value]), w0, a0_2);
                            if (TP.Value > 4) a0_3 = S.Fma(S.Splat(x[3 * TQ.Value]), w0, a0_3);
                            if (TP.Value > 5) a0_4 = S.Fma(S.Splat(x[4 * TQ.Value]), w0, a0_4);
                            if (TP.Value > 6) a0_5 = S.Fma(S.Splat(x[5 * TQ.Value]), w0, a0_5);
                            if (TP.Value > 7) a0_6 = S.Fma(S.Splat(x[6 * TQ.Value]), w0, a0_6);
                            if (TP.Value > 8) a0_7 = S.Fma(S.Splat(x[7 * TQ.Value]), w0, a0_7);
                            if (TP.Value > 9) a0_8 = S.Fma(S.Splat(x[8 * TQ.Value]), w0, a0_8);
                            if (TP.Value > 10) a0_9 = S.Fma(S.Splat(x[9 * TQ.Value]), w0, a0_9);
                            if (TP.Value > 11) a0_10 = S.Fma(S.Splat(x[10 * TQ.Value]), w0, a0_10);
                            if (TP.Value > 12) a0_11 = S.Fma(S.Splat(x[11 * TQ.Value]), w0, a0_11);
                            if (TP.Value > 13) a0_12 = S.Fma(S.Splat(x[12 * TQ.Value]), w0, a0_12);
                            if (TP.Value > 14) a0_13 = S.Fma(S.Splat(x[13 * TQ.Value]), w0, a0_13);
                            if (TP.Value > 15) a0_14 = S.Fma(S.Splat(x[14 * TQ.Value]), w0, a0_14);
                            if (TP.Value > 16) a0_15 = S.Fma(S.Splat(x[15 * TQ.Value]), w0, a0_15);
                            if (TP.Value > 17) a0_16 = S.Fma(S.Splat(x[16 * TQ.Value]), w0, a0_16);
                            if (TP.Value > 18) a0_17 = S.Fma(S.Splat(x[17 * TQ.Value]), w0, a0_17);
                            if (TP.Value > 19) a0_18 = S.Fma(S.Splat(x[18 * TQ.Value]), w0, a0_18);
                            if (TP.Value > 20) a0_19 = S.Fma(S.Splat(x[19 * TQ.Value]), w0, a0_19);
                            if (TP.Value > 21) a0_20 = S.Fma(S.Splat(x[20 * TQ.Value]), w0, a0_20);
                            if (TP.Value > 22) a0_21 = S.Fma(S.Splat(x[21 * TQ.Value]), w0, a0_21);
                            if (TP.Value > 23) a0_22 = S.Fma(S.Splat(x[22 * TQ.Value]), w0, a0_22);
                            if (TP.Value > 24) a0_23 = S.Fma(S.Splat(x[23 * TQ.Value]), w0, a0_23);
                            if (TP.Value > 25) a0_24 = S.Fma(S.Splat(x[24 * TQ.Value]), w0, a0_24);
                            if (TP.Value > 26) a0_25 = S.Fma(S.Splat(x[25 * TQ.Value]), w0, a0_25);
                            if (TP.Value > 27) a0_26 = S.Fma(S.Splat(x[26 * TQ.Value]), w0, a0_26);
                            if (TP.Value > 28) a0_27 = S.Fma(S.Splat(x[27 * TQ.Value]), w0, a0_27);
                        }
                    }
                    else
                    {
                        for (int ic = 0; ic < lanes; ic++, x += j.ChannelPitch, wt += 1 * lanes)
                        {
                            TV w0 = S.Load(wt + 0 * lanes);
                            a0_0 = S.Fma(S.Splat(x[0 * TQ.Value]), w0, a0_0);
                            if (TP.Value > 1) a0_1 = S.Fma(S.Splat(x[1 * TQ.Value]), w0, a0_1);
                            if (TP.Value > 2) a0_2 = S.Fma(S.Splat(x[2 * TQ.Value]), w0, a0_2);
                            if (TP.Value > 3) a0_3 = S.Fma(S.Splat(x[3 * TQ.Value]), w0, a0_3);
                            if (TP.Value > 4) a0_4 = S.Fma(S.Splat(x[4 * TQ.Value]), w0, a0_4);
                            if (TP.Value > 5) a0_5 = S.Fma(S.Splat(x[5 * TQ.Value]), w0, a0_5);
                            if (TP.Value > 6) a0_6 = S.Fma(S.Splat(x[6 * TQ.Value]), w0, a0_6);
                            if (TP.Value > 7) a0_7 = S.Fma(S.Splat(x[7 * TQ.Value]), w0, a0_7);
                            if (TP.Value > 8) a0_8 = S.Fma(S.Splat(x[8 * TQ.Value]), w0, a0_8);
                            if (TP.Value > 9) a0_9 = S.Fma(S.Splat(x[9 * TQ.Value]), w0, a0_9);
                            if (TP.Value > 10) a0_10 = S.Fma(S.Splat(x[10 * TQ.Value]), w0, a0_10);
                            if (TP.Value > 11) a0_11 = S.Fma(S.Splat(x[11 * TQ.Value]), w0, a0_11);
                            if (TP.Value > 12) a0_12 = S.Fma(S.Splat(x[12 * TQ.Value]), w0, a0_12);
                            if (TP.Value > 13) a0_13 = S.Fma(S.Splat(x[13 * TQ.Value]), w0, a0_13);
                            if (TP.Value > 14) a0_14 = S.Fma(S.Splat(x[14 * TQ.Value]), w0, a0_14);
                            if (TP.Value > 15) a0_15 = S.Fma(S.Splat(x[15 * TQ.Value]), w0, a0_15);
                            if (TP.Value > 16) a0_16 = S.Fma(S.Splat(x[16 * TQ.Value]), w0, a0_16);
                            if (TP.Value > 17) a0_17 = S.Fma(S.Splat(x[17 * TQ.Value]), w0, a0_17);
                            if (TP.Value > 18) a0_18 = S.Fma(S.Splat(x[18 * TQ.Value]), w0, a0_18);
                            if (TP.Value > 19) a0_19 = S.Fma(S.Splat(x[19 * TQ.Value]), w0, a0_19);
                            if (TP.Value > 20) a0_20 = S.Fma(S.Splat(x[20 * TQ.Value]), w0, a0_20);
                            if (TP.Value > 21) a0_21 = S.Fma(S.Splat(x[21 * TQ.Value]), w0, a0_21);
                            if (TP.Value > 22) a0_22 = S.Fma(S.Splat(x[22 * TQ.Value]), w0, a0_22);
                            if (TP.Value > 23) a0_23 = S.Fma(S.Splat(x[23 * TQ.Value]), w0, a0_23);
                            if (TP.Value > 24) a0_24 = S.Fma(S.Splat(x[24 * TQ.Value]), w0, a0_24);
                            if (TP.Value > 25) a0_25 = S.Fma(S.Splat(x[25 * TQ.Value]), w0, a0_25);
                            if (TP.Value > 26) a0_26 = S.Fma(S.Splat(x[26 * TQ.Value]), w0, a0_26);
                            if (TP.Value > 27) a0_27 = S.Fma(S.Splat(x[27 * TQ.Value]), w0, a0_27);
                        }
                    }
                }
        Store(j, dst, res, 0 * lanes, a0_0);
        if (TP.Value > 1) Store(j, dst, res, 1 * lanes, a0_1);
        if (TP.Value > 2) Store(j, dst, res, 2 * lanes, a0_2);
        if (TP.Value > 3) Store(j, dst, res, 3 * lanes, a0_3);
        if (TP.Value > 4) Store(j, dst, res, 4 * lanes, a0_4);
        if (TP.Value > 5) Store(j, dst, res, 5 * lanes, a0_5);
        if (TP.Value > 6) Store(j, dst, res, 6 * lanes, a0_6);
        if (TP.Value > 7) Store(j, dst, res, 7 * lanes, a0_7);
        if (TP.Value > 8) Store(j, dst, res, 8 * lanes, a0_8);
        if (TP.Value > 9) Store(j, dst, res, 9 * lanes, a0_9);
        if (TP.Value > 10) Store(j, dst, res, 10 * lanes, a0_10);
        if (TP.Value > 11) Store(j, dst, res, 11 * lanes, a0_11);
        if (TP.Value > 12) Store(j, dst, res, 12 * lanes, a0_12);
        if (TP.Value > 13) Store(j, dst, res, 13 * lanes, a0_13);
        if (TP.Value > 14) Store(j, dst, res, 14 * lanes, a0_14);
        if (TP.Value > 15) Store(j, dst, res, 15 * lanes, a0_15);
        if (TP.Value > 16) Store(j, dst, res, 16 * lanes, a0_16);
        if (TP.Value > 17) Store(j, dst, res, 17 * lanes, a0_17);
        if (TP.Value > 18) Store(j, dst, res, 18 * lanes, a0_18);
        if (TP.Value > 19) Store(j, dst, res, 19 * lanes, a0_19);
        if (TP.Value > 20) Store(j, dst, res, 20 * lanes, a0_20);
        if (TP.Value > 21) Store(j, dst, res, 21 * lanes, a0_21);
        if (TP.Value > 22) Store(j, dst, res, 22 * lanes, a0_22);
        if (TP.Value > 23) Store(j, dst, res, 23 * lanes, a0_23);
        if (TP.Value > 24) Store(j, dst, res, 24 * lanes, a0_24);
        if (TP.Value > 25) Store(j, dst, res, 25 * lanes, a0_25);
        if (TP.Value > 26) Store(j, dst, res, 26 * lanes, a0_26);
        if (TP.Value > 27) Store(j, dst, res, 27 * lanes, a0_27);
    }

    /// <summary>Output channels of two vectors (2 L channels) at TP.Value consecutive positions of one output row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile2<TP, TQ>(in Job j, float* src, float* w, float* dst, float* res) where TP : struct, IRowCount where TQ : struct, IRowCount
    {
        int lanes = S.Count;
        TV bias0 = S.Load(j.Bias + 0 * lanes);
        TV bias1 = S.Load(j.Bias + 1 * lanes);
        TV a0_0 = bias0; TV a1_0 = bias1;
        TV a0_1 = TP.Value > 1 ? bias0 : default; TV a1_1 = TP.Value > 1 ? bias1 : default;
        TV a0_2 = TP.Value > 2 ? bias0 : default; TV a1_2 = TP.Value > 2 ? bias1 : default;
        TV a0_3 = TP.Value > 3 ? bias0 : default; TV a1_3 = TP.Value > 3 ? bias1 : default;
        TV a0_4 = TP.Value > 4 ? bias0 : default; TV a1_4 = TP.Value > 4 ? bias1 : default;
        TV a0_5 = TP.Value > 5 ? bias0 : default; TV a1_5 = TP.Value > 5 ? bias1 : default;
        TV a0_6 = TP.Value > 6 ? bias0 : default; TV a1_6 = TP.Value > 6 ? bias1 : default;
        TV a0_7 = TP.Value > 7 ? bias0 : default; TV a1_7 = TP.Value > 7 ? bias1 : default;
        TV a0_8 = TP.Value > 8 ? bias0 : default; TV a1_8 = TP.Value > 8 ? bias1 : default;
        TV a0_9 = TP.Value > 9 ? bias0 : default; TV a1_9 = TP.Value > 9 ? bias1 : default;
        TV a0_10 = TP.Value > 10 ? bias0 : default; TV a1_10 = TP.Value > 10 ? bias1 : default;
        TV a0_11 = TP.Value > 11 ? bias0 : default; TV a1_11 = TP.Value > 11 ? bias1 : default;
        TV a0_12 = TP.Value > 12 ? bias0 : default; TV a1_12 = TP.Value > 12 ? bias1 : default;
        TV a0_13 = TP.Value > 13 ? bias0 : default; TV a1_13 = TP.Value > 13 ? bias1 : default;
        for (int icb = 0; icb < j.InBlocks; icb++)
            for (int ky = j.KyBegin; ky < j.KyEnd; ky++)
                for (int kx = 0; kx < j.K; kx++)
                {
                    int t = ky * j.K + kx;
                    float* x = src + icb * j.InBlockPitch + j.TapOffsets[t];
                    float* wt = w + (long)(icb * j.Taps + t) * lanes * 2 * lanes;
                    // A tap that reaches into the padding for the row's first or last position skips that position.
                    if (kx < j.SkipFirstBelow)
                    {
                        if (TP.Value == 1) continue;
                        for (int ic = 0; ic < lanes; ic++, x += j.ChannelPitch, wt += 2 * lanes)
                        {
                            TV w0 = S.Load(wt + 0 * lanes); TV w1 = S.Load(wt + 1 * lanes);
                            if (TP.Value > 1) { TV b = S.Splat(x[1 * TQ.Value]); a0_1 = S.Fma(w0, b, a0_1); a1_1 = S.Fma(w1, b, a1_1); }
                            if (TP.Value > 2) { TV b = S.Splat(x[2 * TQ.Value]); a0_2 = S.Fma(w0, b, a0_2); a1_2 = S.Fma(w1, b, a1_2); }
                            if (TP.Value > 3) { TV b = S.Splat(x[3 * TQ.Value]); a0_3 = S.Fma(w0, b, a0_3); a1_3 = S.Fma(w1, b, a1_3); }
                            if (TP.Value > 4) { TV b = S.Splat(x[4 * TQ.Value]); a0_4 = S.Fma(w0, b, a0_4); a1_4 = S.Fma(w1, b, a1_4); }
                            if (TP.Value > 5) { TV b = S.Splat(x[5 * TQ.Value]); a0_5 = S.Fma(w0, b, a0_5); a1_5 = S.Fma(w1, b, a1_5); }
                            if (TP.Value > 6) { TV b = S.Splat(x[6 * TQ.Value]); a0_6 = S.Fma(w0, b, a0_6); a1_6 = S.Fma(w1, b, a1_6); }
                            if (TP.Value > 7) { TV b = S.Splat(x[7 * TQ.Value]); a0_7 = S.Fma(w0, b, a0_7); a1_7 = S.Fma(w1, b, a1_7); }
                            if (TP.Value > 8) { TV b = S.Splat(x[8 * TQ.Value]); a0_8 = S.Fma(w0, b, a0_8); a1_8 = S.Fma(w1, b, a1_8); }
                            if (TP.Value > 9) { TV b = S.Splat(x[9 * TQ.Value]); a0_9 = S.Fma(w0, b, a0_9); a1_9 = S.Fma(w1, b, a1_9); }
                            if (TP.Value > 10) { TV b = S.Splat(x[10 * TQ.Value]); a0_10 = S.Fma(w0, b, a0_10); a1_10 = S.Fma(w1, b, a1_10); }
                            if (TP.Value > 11) { TV b = S.Splat(x[11 * TQ.Value]); a0_11 = S.Fma(w0, b, a0_11); a1_11 = S.Fma(w1, b, a1_11); }
                            if (TP.Value > 12) { TV b = S.Splat(x[12 * TQ.Value]); a0_12 = S.Fma(w0, b, a0_12); a1_12 = S.Fma(w1, b, a1_12); }
                            if (TP.Value > 13) { TV b = S.Splat(x[13 * TQ.Value]); a0_13 = S.Fma(w0, b, a0_13); a1_13 = S.Fma(w1, b, a1_13); }
                        }
                    }
                    else if (kx >= j.SkipLastFrom)
                    {
                        if (TP.Value == 1) continue;
                        for (int ic = 0; ic < lanes; ic++, x += j.ChannelPitch, wt += 2 * lanes)
                        {
                            TV w0 = S.Load(wt + 0 * lanes); TV w1 = S.Load(wt + 1 * lanes);
                            if (TP.Value > 1) { TV b = S.Splat(x[0 * TQ.Value]); a0_0 = S.Fma(w0, b, a0_0); a1_0 = S.Fma(w1, b, a1_0); }
                            if (TP.Value > 2) { TV b = S.Splat(x[1 * TQ.Value]); a0_1 = S.Fma(w0, b, a0_1); a1_1 = S.Fma(w1, b, a1_1); }
                            if (TP.Value > 3) { TV b = S.Splat(x[2 * TQ.Value]); a0_2 = S.Fma(w0, b, a0_2); a1_2 = S.Fma(w1, b, a1_2); }
                            if (TP.Value > 4) { TV b = S.Splat(x[3 * TQ.Value]); a0_3 = S.Fma(w0, b, a0_3); a1_3 = S.Fma(w1, b, a1_3); }
                            if (TP.Value > 5) { TV b = S.Splat(x[4 * TQ.Value]); a0_4 = S.Fma(w0, b, a0_4); a1_4 = S.Fma(w1, b, a1_4); }
                            if (TP.Value > 6) { TV b = S.Splat(x[5 * TQ.Value]); a0_5 = S.Fma(w0, b, a0_5); a1_5 = S.Fma(w1, b, a1_5); }
                            if (TP.Value > 7) { TV b = S.Splat(x[6 * TQ.Value]); a0_6 = S.Fma(w0, b, a0_6); a1_6 = S.Fma(w1, b, a1_6); }
                            if (TP.Value > 8) { TV b = S.Splat(x[7 * TQ.Value]); a0_7 = S.Fma(w0, b, a0_7); a1_7 = S.Fma(w1, b, a1_7); }
                            if (TP.Value > 9) { TV b = S.Splat(x[8 * TQ.Value]); a0_8 = S.Fma(w0, b, a0_8); a1_8 = S.Fma(w1, b, a1_8); }
                            if (TP.Value > 10) { TV b = S.Splat(x[9 * TQ.Value]); a0_9 = S.Fma(w0, b, a0_9); a1_9 = S.Fma(w1, b, a1_9); }
                            if (TP.Value > 11) { TV b = S.Splat(x[10 * TQ.Value]); a0_10 = S.Fma(w0, b, a0_10); a1_10 = S.Fma(w1, b, a1_10); }
                            if (TP.Value > 12) { TV b = S.Splat(x[11 * TQ.Value]); a0_11 = S.Fma(w0, b, a0_11); a1_11 = S.Fma(w1, b, a1_11); }
                            if (TP.Value > 13) { TV b = S.Splat(x[12 * TQ.Value]); a0_12 = S.Fma(w0, b, a0_12); a1_12 = S.Fma(w1, b, a1_12); }
                            if (TP.Value > 14) { TV b = S.Splat(x[13 * TQ.Value]); a0_13 = S.Fma(w0, b, a0_13); a1_13 = S.Fma(w1, b, a1_13); }
                        }
                    }
                    else
                    {
                        for (int ic = 0; ic < lanes; ic++, x += j.ChannelPitch, wt += 2 * lanes)
                        {
                            TV w0 = S.Load(wt + 0 * lanes); TV w1 = S.Load(wt + 1 * lanes);
                            { TV b = S.Splat(x[0 * TQ.Value]); a0_0 = S.Fma(w0, b, a0_0); a1_0 = S.Fma(w1, b, a1_0); }
                            if (TP.Value > 1) { TV b = S.Splat(x[1 * TQ.Value]); a0_1 = S.Fma(w0, b, a0_1); a1_1 = S.Fma(w1, b, a1_1); }
                            if (TP.Value > 2) { TV b = S.Splat(x[2 * TQ.Value]); a0_2 = S.Fma(w0, b, a0_2); a1_2 = S.Fma(w1, b, a1_2); }
                            if (TP.Value > 3) { TV b = S.Splat(x[3 * TQ.Value]); a0_3 = S.Fma(w0, b, a0_3); a1_3 = S.Fma(w1, b, a1_3); }
                            if (TP.Value > 4) { TV b = S.Splat(x[4 * TQ.Value]); a0_4 = S.Fma(w0, b, a0_4); a1_4 = S.Fma(w1, b, a1_4); }
                            if (TP.Value > 5) { TV b = S.Splat(x[5 * TQ.Value]); a0_5 = S.Fma(w0, b, a0_5); a1_5 = S.Fma(w1, b, a1_5); }
                            if (TP.Value > 6) { TV b = S.Splat(x[6 * TQ.Value]); a0_6 = S.Fma(w0, b, a0_6); a1_6 = S.Fma(w1, b, a1_6); }
                            if (TP.Value > 7) { TV b = S.Splat(x[7 * TQ.Value]); a0_7 = S.Fma(w0, b, a0_7); a1_7 = S.Fma(w1, b, a1_7); }
                            if (TP.Value > 8) { TV b = S.Splat(x[8 * TQ.Value]); a0_8 = S.Fma(w0, b, a0_8); a1_8 = S.Fma(w1, b, a1_8); }
                            if (TP.Value > 9) { TV b = S.Splat(x[9 * TQ.Value]); a0_9 = S.Fma(w0, b, a0_9); a1_9 = S.Fma(w1, b, a1_9); }
                            if (TP.Value > 10) { TV b = S.Splat(x[10 * TQ.Value]); a0_10 = S.Fma(w0, b, a0_10); a1_10 = S.Fma(w1, b, a1_10); }
                            if (TP.Value > 11) { TV b = S.Splat(x[11 * TQ.Value]); a0_11 = S.Fma(w0, b, a0_11); a1_11 = S.Fma(w1, b, a1_11); }
                            if (TP.Value > 12) { TV b = S.Splat(x[12 * TQ.Value]); a0_12 = S.Fma(w0, b, a0_12); a1_12 = S.Fma(w1, b, a1_12); }
                            if (TP.Value > 13) { TV b = S.Splat(x[13 * TQ.Value]); a0_13 = S.Fma(w0, b, a0_13); a1_13 = S.Fma(w1, b, a1_13); }
                        }
                    }
                }
        { Store(j, dst, res, 0 * lanes, a0_0); Store(j, dst, res, j.OutBlockPitch + 0 * lanes, a1_0); }
        if (TP.Value > 1) { Store(j, dst, res, 1 * lanes, a0_1); Store(j, dst, res, j.OutBlockPitch + 1 * lanes, a1_1); }
        if (TP.Value > 2) { Store(j, dst, res, 2 * lanes, a0_2); Store(j, dst, res, j.OutBlockPitch + 2 * lanes, a1_2); }
        if (TP.Value > 3) { Store(j, dst, res, 3 * lanes, a0_3); Store(j, dst, res, j.OutBlockPitch + 3 * lanes, a1_3); }
        if (TP.Value > 4) { Store(j, dst, res, 4 * lanes, a0_4); Store(j, dst, res, j.OutBlockPitch + 4 * lanes, a1_4); }
        if (TP.Value > 5) { Store(j, dst, res, 5 * lanes, a0_5); Store(j, dst, res, j.OutBlockPitch + 5 * lanes, a1_5); }
        if (TP.Value > 6) { Store(j, dst, res, 6 * lanes, a0_6); Store(j, dst, res, j.OutBlockPitch + 6 * lanes, a1_6); }
        if (TP.Value > 7) { Store(j, dst, res, 7 * lanes, a0_7); Store(j, dst, res, j.OutBlockPitch + 7 * lanes, a1_7); }
        if (TP.Value > 8) { Store(j, dst, res, 8 * lanes, a0_8); Store(j, dst, res, j.OutBlockPitch + 8 * lanes, a1_8); }
        if (TP.Value > 9) { Store(j, dst, res, 9 * lanes, a0_9); Store(j, dst, res, j.OutBlockPitch + 9 * lanes, a1_9); }
        if (TP.Value > 10) { Store(j, dst, res, 10 * lanes, a0_10); Store(j, dst, res, j.OutBlockPitch + 10 * lanes, a1_10); }
        if (TP.Value > 11) { Store(j, dst, res, 11 * lanes, a0_11); Store(j, dst, res, j.OutBlockPitch + 11 * lanes, a1_11); }
        if (TP.Value > 12) { Store(j, dst, res, 12 * lanes, a0_12); Store(j, dst, res, j.OutBlockPitch + 12 * lanes, a1_12); }
        if (TP.Value > 13) { Store(j, dst, res, 13 * lanes, a0_13); Store(j, dst, res, j.OutBlockPitch + 13 * lanes, a1_13); }
    }

    private static void Row1<TQ>(in Job j, int p, float* src, float* w, float* dst, float* res) where TQ : struct, IRowCount
    {
        switch (p)
        {
            case 1: Tile1<Rows1, TQ>(j, src, w, dst, res); break;
            case 2: Tile1<Rows2, TQ>(j, src, w, dst, res); break;
            case 3: Tile1<Rows3, TQ>(j, src, w, dst, res); break;
            case 4: Tile1<Rows4, TQ>(j, src, w, dst, res); break;
            case 5: Tile1<Rows5, TQ>(j, src, w, dst, res); break;
            case 6: Tile1<Rows6, TQ>(j, src, w, dst, res); break;
            case 7: Tile1<Rows7, TQ>(j, src, w, dst, res); break;
            case 8: Tile1<Rows8, TQ>(j, src, w, dst, res); break;
            case 9: Tile1<Rows9, TQ>(j, src, w, dst, res); break;
            case 10: Tile1<Rows10, TQ>(j, src, w, dst, res); break;
            case 11: Tile1<Rows11, TQ>(j, src, w, dst, res); break;
            case 12: Tile1<Rows12, TQ>(j, src, w, dst, res); break;
            case 13: Tile1<Rows13, TQ>(j, src, w, dst, res); break;
            case 14: Tile1<Rows14, TQ>(j, src, w, dst, res); break;
            case 15: Tile1<Rows15, TQ>(j, src, w, dst, res); break;
            case 16: Tile1<Rows16, TQ>(j, src, w, dst, res); break;
            case 17: Tile1<Rows17, TQ>(j, src, w, dst, res); break;
            case 18: Tile1<Rows18, TQ>(j, src, w, dst, res); break;
            case 19: Tile1<Rows19, TQ>(j, src, w, dst, res); break;
            case 20: Tile1<Rows20, TQ>(j, src, w, dst, res); break;
            case 21: Tile1<Rows21, TQ>(j, src, w, dst, res); break;
            case 22: Tile1<Rows22, TQ>(j, src, w, dst, res); break;
            case 23: Tile1<Rows23, TQ>(j, src, w, dst, res); break;
            case 24: Tile1<Rows24, TQ>(j, src, w, dst, res); break;
            case 25: Tile1<Rows25, TQ>(j, src, w, dst, res); break;
            case 26: Tile1<Rows26, TQ>(j, src, w, dst, res); break;
            case 27: Tile1<Rows27, TQ>(j, src, w, dst, res); break;
            case 28: Tile1<Rows28, TQ>(j, src, w, dst, res); break;
            default: throw new ArgumentOutOfRangeException(nameof(p));
        }
    }

    private static void Row2<TQ>(in Job j, int p, float* src, float* w, float* dst, float* res) where TQ : struct, IRowCount
    {
        switch (p)
        {
            case 1: Tile2<Rows1, TQ>(j, src, w, dst, res); break;
            case 2: Tile2<Rows2, TQ>(j, src, w, dst, res); break;
            case 3: Tile2<Rows3, TQ>(j, src, w, dst, res); break;
            case 4: Tile2<Rows4, TQ>(j, src, w, dst, res); break;
            case 5: Tile2<Rows5, TQ>(j, src, w, dst, res); break;
            case 6: Tile2<Rows6, TQ>(j, src, w, dst, res); break;
            case 7: Tile2<Rows7, TQ>(j, src, w, dst, res); break;
            case 8: Tile2<Rows8, TQ>(j, src, w, dst, res); break;
            case 9: Tile2<Rows9, TQ>(j, src, w, dst, res); break;
            case 10: Tile2<Rows10, TQ>(j, src, w, dst, res); break;
            case 11: Tile2<Rows11, TQ>(j, src, w, dst, res); break;
            case 12: Tile2<Rows12, TQ>(j, src, w, dst, res); break;
            case 13: Tile2<Rows13, TQ>(j, src, w, dst, res); break;
            case 14: Tile2<Rows14, TQ>(j, src, w, dst, res); break;
            default: throw new ArgumentOutOfRangeException(nameof(p));
        }
    }
}
