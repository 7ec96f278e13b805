using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// Direct float32 convolution for layers with many input channels (ResNet's 3x3 layers on 16-64 channels, and its
/// stride-2 3x3 and 1x1 layers in the forward pass), without im2col. A chunk of images is copied once into a "flat"
/// zero-bordered layout per channel (stride 1; see <see cref="FlatLayout"/> for larger strides): rows of
/// <c>InW + PadW</c> columns (each row's right border is the next row's left border) and images of <c>InH + PadH</c>
/// rows (likewise sharing their top/bottom border). In that layout every tap (ky, kx) of every output position q is
/// the input at q + ky * rowStride + kx, so the whole chunk is one 1-D convolution over positions: vector loads
/// with no bounds checks, whatever the image width (a 7x7 plane wastes 23 % of the lanes, not the 56 % of
/// row-by-row vectors). Positions that fall in a border column or row are computed and dropped. The weight gradient
/// runs over the same layout, one tap at a time, as dot products of the output gradient and the shifted input.
/// </summary>
internal static unsafe class FlatConv
{
    /// <summary>Output channels per register tile.</summary>
    internal const int Rows = 4;

    /// <summary>Vectors of positions per register tile.</summary>
    internal const int Columns = 3;

    /// <summary>Whether the forward kernel takes this shape: any stride up to <see cref="MaxStride"/> (strides above 1 through phase planes).</summary>
    public static bool AppliesForward<T>(in ConvGeometry g) =>
        typeof(T) == typeof(float) && SimdWidth.Current >= 128 && g.Groups == 1 &&
        g.StrideH <= MaxStride && g.StrideW <= MaxStride && g.DilationH == 1 && g.DilationW == 1 &&
        g.PadH <= g.KernelH - 1 && g.PadW <= g.KernelW - 1 && g.OutH > 0 && g.OutW > 0 &&
        !g.IsPointwise && g.InChannels * g.KernelH * g.KernelW >= 16;

    /// <summary>Whether the weight-gradient kernel takes this shape (stride 1 only).</summary>
    public static bool Applies<T>(in ConvGeometry g) => AppliesForward<T>(g) && g.StrideH == 1 && g.StrideW == 1;

    // Larger strides would store few positions per phase plane; im2col serves them.
    private const int MaxStride = 4;

    /// <summary>y[n, o] = sum over channels and taps of w[o, c, tap] * shifted x[n, c] + bias[o], max(y, 0) when relu.</summary>
    public static void Forward(float* x, float* w, float* bias, float* y, ConvGeometry g, bool relu = false)
    {
        if (g.Batch == 0) return;
        var packed = ArrayPool<float>.Shared.Rent(PackedLength(g));
        try
        {
            fixed (float* pw = packed)
            {
                PackWeights(w, pw, g.OutChannels, g.K);
                ForwardPacked(x, pw, bias, y, g, relu);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packed);
        }
    }

    /// <summary>
    /// <see cref="Forward"/> with weights already laid out by <see cref="PackWeights(float*, in ConvGeometry)"/>: the
    /// inference path packs once at preparation instead of on every call (at batch 1 the packing cost a sixth of ResNet-20).
    /// With <paramref name="residual"/> (NCHW, y's shape), y = conv + residual, then ReLU when <paramref name="relu"/>:
    /// the inference plan's residual connection, added while the output is copied out of the flat layout.
    /// </summary>
    public static void ForwardPacked(float* x, float* packed, float* bias, float* y, ConvGeometry g, bool relu, float* residual = null)
    {
        if (g.Batch == 0) return;
        switch (SimdWidth.Current)
        {
            case 512: FlatConv<Vector512<float>, Simd512<float>>.ForwardPacked(x, packed, bias, y, g, relu, residual); break;
            case 256: FlatConv<Vector256<float>, Simd256<float>>.ForwardPacked(x, packed, bias, y, g, relu, residual); break;
            default: FlatConv<Vector128<float>, Simd128<float>>.ForwardPacked(x, packed, bias, y, g, relu, residual); break;
        }
    }

    /// <summary>The weights [O, K] of <paramref name="g"/> in the layout the forward kernel reads (see <see cref="PackWeights(float*, float*, int, int)"/>).</summary>
    public static float[] PackWeights(float* w, in ConvGeometry g)
    {
        var packed = new float[PackedLength(g)];
        fixed (float* pw = packed) PackWeights(w, pw, g.OutChannels, g.K);
        return packed;
    }

    private static int PackedLength(in ConvGeometry g) => checked((g.OutChannels + Rows - 1) / Rows * Rows * g.K);

    /// <summary>
    /// Weights [O, K] as blocks of <see cref="Rows"/> output channels, tap-major inside a block:
    /// packed[(b K + t) Rows + r] = w[b Rows + r, t] (zero for channels past O), so a tile's weights of one tap are adjacent.
    /// </summary>
    private static void PackWeights(float* w, float* packed, int outChannels, int k)
    {
        for (int b = 0; b < (outChannels + Rows - 1) / Rows; b++)
            for (int r = 0; r < Rows; r++)
            {
                int o = b * Rows + r;
                float* dst = packed + (long)b * k * Rows + r;
                if (o >= outChannels)
                    for (int t = 0; t < k; t++) dst[t * Rows] = 0;
                else
                    for (int t = 0; t < k; t++) dst[t * Rows] = w[(long)o * k + t];
            }
    }

    /// <summary>gw[o, c, tap] = sum over images and positions of gy[n, o] * shifted x[n, c] (overwritten).</summary>
    public static void BackwardWeight(float* x, float* gy, float* gw, ConvGeometry g, int maxParts)
    {
        switch (SimdWidth.Current)
        {
            case 512: FlatConv<Vector512<float>, Simd512<float>>.BackwardWeight(x, gy, gw, g, maxParts); break;
            case 256: FlatConv<Vector256<float>, Simd256<float>>.BackwardWeight(x, gy, gw, g, maxParts); break;
            default: FlatConv<Vector128<float>, Simd128<float>>.BackwardWeight(x, gy, gw, g, maxParts); break;
        }
    }
}

/// <summary>
/// Where a chunk of images lives in the flat layout of <see cref="FlatConv"/>, and where each tap of the kernel reads.
/// Stride 1: each input channel is one plane of <c>InH + PadH</c> rows of <c>InW + PadW</c> columns per image (borders
/// shared between neighbours), and tap (ky, kx) reads ky * RowStride + kx past the output position. Larger strides:
/// each input channel is split into phase planes (plane (a, b) holds the input rows a, a + sH, ... and columns b, b + sW,
/// ...) laid out on the output grid, so a tap reads one phase plane at a small shift and every position of a tile again
/// reads consecutive floats; only the phases some tap reads are stored (a strided 1x1 convolution keeps one).
/// </summary>
internal readonly unsafe struct FlatLayout
{
    public readonly int RowStride;   // stride 1: InW + PadW; strided: OutW plus the taps' spread in phase columns
    public readonly int ImageRows;   // stride 1: InH + PadH; strided: OutH plus the taps' spread in phase rows
    public readonly int Images;
    public readonly int Positions;   // Images * ImageRows * RowStride, rounded up to whole vectors
    public readonly int ChannelLength; // Positions plus the kernel's reach: every tap of every tile is readable
    public readonly int Planes;      // planes per input channel: 1, or the phases the taps read
    private readonly Axis _rows, _columns;

    public FlatLayout(in ConvGeometry g, int images, int lanes)
    {
        Images = images;
        int reachRows, reachColumns; // how far past an output position its taps read, in rows and columns
        if (g.StrideH == 1 && g.StrideW == 1)
        {
            RowStride = g.InW + g.PadW;
            ImageRows = g.InH + g.PadH;
            Planes = 1;
            (reachRows, reachColumns) = (g.KernelH - 1, g.KernelW - 1);
        }
        else
        {
            _rows = new Axis(g.KernelH, g.PadH, g.StrideH);
            _columns = new Axis(g.KernelW, g.PadW, g.StrideW);
            RowStride = g.OutW + _columns.Spread;
            ImageRows = g.OutH + _rows.Spread;
            Planes = BitCount(_rows.Phases) * BitCount(_columns.Phases);
            (reachRows, reachColumns) = (_rows.Spread, _columns.Spread);
        }
        Positions = (images * ImageRows * RowStride + lanes - 1) / lanes * lanes;
        // Plus a whole register tile of slack past the last position.
        ChannelLength = Positions + reachRows * RowStride + reachColumns + FlatConv.Columns * lanes;
    }

    private bool Strided => _rows.Stride != 0; // the stride-1 layout leaves its axes unset

    private static int BitCount(int mask) => System.Numerics.BitOperations.PopCount((uint)mask);

    /// <summary>
    /// One dimension of a strided layout: kernel index k reads input stride * (output + Shift(k)) + Phase(k);
    /// <see cref="Phases"/> is the set of phases read (a bit mask), <see cref="Spread"/> the range of shifts.
    /// </summary>
    private readonly struct Axis
    {
        public readonly int Stride, Pad, MinShift, Spread, Phases;

        public Axis(int kernel, int pad, int stride)
        {
            Stride = stride;
            Pad = pad;
            MinShift = Shift(0, pad, stride);
            Spread = Shift(kernel - 1, pad, stride) - MinShift;
            for (int k = 0; k < kernel; k++) Phases |= 1 << Phase(k, pad, stride);
        }

        private static int Shift(int k, int pad, int stride) => ConvGeometry.FloorDiv(k - pad, stride);

        private static int Phase(int k, int pad, int stride) => k - pad - stride * Shift(k, pad, stride);

        public int ShiftOf(int k) => Shift(k, Pad, Stride) - MinShift;

        public int PhaseOf(int k) => Phase(k, Pad, Stride);

        /// <summary>The rank of phase <paramref name="a"/> among the phases read.</summary>
        public int Rank(int a) => BitCount(Phases & ((1 << a) - 1));
    }

    /// <summary>
    /// offsets[t] for tap t = (c * KernelH + ky) * KernelW + kx (the order of the weights): where, relative to an output
    /// position, that tap's input is.
    /// </summary>
    public void TapOffsets(in ConvGeometry g, int* offsets)
    {
        int t = 0;
        for (int c = 0; c < g.InChannels; c++)
            for (int ky = 0; ky < g.KernelH; ky++)
                for (int kx = 0; kx < g.KernelW; kx++)
                    offsets[t++] = !Strided
                        ? c * ChannelLength + ky * RowStride + kx
                        : (c * Planes + _rows.Rank(_rows.PhaseOf(ky)) * BitCount(_columns.Phases) + _columns.Rank(_columns.PhaseOf(kx))) * ChannelLength +
                          _rows.ShiftOf(ky) * RowStride + _columns.ShiftOf(kx);
    }

    /// <summary>Images per chunk of the forward pass: the chunk's flat input and output fit in a quarter of L2, at least one image.</summary>
    public static int ChunkImages(in ConvGeometry g)
    {
        var one = new FlatLayout(g, 1, 1);
        long perImage = ((long)g.InChannels * one.Planes + g.OutChannels) * one.ImageRows * one.RowStride;
        long budget = Math.Max(CpuInfo.L2Bytes / 4, 64 * 1024) / sizeof(float);
        return (int)Math.Clamp(budget / Math.Max(perImage, 1), 1, Math.Max(g.Batch, 1));
    }

    /// <summary>
    /// Images per chunk of the weight gradient: its flat input fits in half of L2. The output gradient is read a few
    /// channels at a time, so it need not stay in L2, and longer chunks spread each tile's horizontal sums over more
    /// positions (with one or two images of a 14x14 layer, the sums were a third of the instructions).
    /// </summary>
    public static int WeightChunkImages(in ConvGeometry g)
    {
        long perImage = (long)g.InChannels * (g.InH + g.PadH) * (g.InW + g.PadW);
        long budget = Math.Max(CpuInfo.L2Bytes / 2, 128 * 1024) / sizeof(float);
        return (int)Math.Clamp(budget / Math.Max(perImage, 1), 1, Math.Max(g.Batch, 1));
    }

    /// <summary>
    /// Copies images [n0, n0 + Images) of NCHW <paramref name="source"/> ([n, channels, InH, InW]) into the flat layout,
    /// zeros around; every float of the layout is written once (zeroing it all first cost as much as the copy).
    /// </summary>
    public void Fill<TV, S>(float* source, int channels, int n0, in ConvGeometry g, float* flat) where TV : unmanaged where S : ISimd<TV, float>
    {
        int used = Images * ImageRows * RowStride;
        for (int c = 0; c < channels; c++)
            for (int p = 0; p < Planes; p++)
                new Span<float>(flat + (long)(c * Planes + p) * ChannelLength + used, ChannelLength - used).Clear();
        if (Strided)
        {
            FillPhases(source, channels, n0, g, flat);
            return;
        }
        int h = g.InH, w = g.InW, plane = h * w, padH = g.PadH, padW = g.PadW;
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < Images; i++)
            {
                float* src = source + ((long)(n0 + i) * channels + c) * plane;
                float* dst = flat + (long)c * ChannelLength + (long)i * ImageRows * RowStride;
                new Span<float>(dst, padH * RowStride).Clear(); // the border rows above (below the previous image)
                dst += padH * RowStride;
                for (int r = 0; r < h; r++, dst += RowStride)
                {
                    for (int k = 0; k < padW; k++) dst[k] = 0; // the border between this row and the previous one
                    CopyRow<TV, S>(src + r * w, dst + padW, w);
                }
            }
    }

    /// <summary>The phase planes of a strided layout: plane row R, column C of phase (a, b) is input (sH (R + min) + a, sW (C + min) + b).</summary>
    private void FillPhases(float* source, int channels, int n0, in ConvGeometry g, float* flat)
    {
        int h = g.InH, w = g.InW, sh = _rows.Stride, sw = _columns.Stride, plane = h * w;
        int slot = 0;
        for (int a = 0; a < sh; a++)
        {
            if ((_rows.Phases & (1 << a)) == 0) continue;
            for (int b = 0; b < sw; b++)
            {
                if ((_columns.Phases & (1 << b)) == 0) continue;
                // Plane columns whose input column sw (C + min) + b lies in [0, w).
                int first = Math.Clamp(ConvGeometry.CeilDiv(-b, sw) - _columns.MinShift, 0, RowStride);
                int last = Math.Clamp(ConvGeometry.CeilDiv(w - b, sw) - _columns.MinShift, first, RowStride);
                for (int c = 0; c < channels; c++)
                    for (int i = 0; i < Images; i++)
                    {
                        float* src = source + ((long)(n0 + i) * channels + c) * plane;
                        float* dst = flat + (long)(c * Planes + slot) * ChannelLength + (long)i * ImageRows * RowStride;
                        for (int r = 0; r < ImageRows; r++)
                        {
                            float* to = dst + (long)r * RowStride;
                            int y = sh * (r + _rows.MinShift) + a;
                            if ((uint)y >= (uint)h)
                            {
                                new Span<float>(to, RowStride).Clear();
                                continue;
                            }
                            float* from = src + (long)y * w + sw * (first + _columns.MinShift) + b;
                            for (int col = 0; col < first; col++) to[col] = 0;
                            for (int col = first; col < last; col++, from += sw) to[col] = *from;
                            for (int col = last; col < RowStride; col++) to[col] = 0;
                        }
                    }
                slot++;
            }
        }
    }

    /// <summary>
    /// The output gradient of images [n0, n0 + Images) at the positions the forward pass computed them
    /// (image i's output row r at (i * ImageRows + r) * RowStride), zeros at every other position.
    /// </summary>
    public void FillOutput<TV, S>(float* gy, int channels, int n0, in ConvGeometry g, float* flat) where TV : unmanaged where S : ISimd<TV, float>
    {
        new Span<float>(flat, checked(channels * Positions)).Clear();
        int oh = g.OutH, ow = g.OutW, plane = oh * ow;
        for (int o = 0; o < channels; o++)
            for (int i = 0; i < Images; i++)
            {
                float* src = gy + ((long)(n0 + i) * channels + o) * plane;
                float* dst = flat + (long)o * Positions + (long)i * ImageRows * RowStride;
                for (int r = 0; r < oh; r++) CopyRow<TV, S>(src + r * ow, dst + (long)r * RowStride, ow);
            }
    }

    /// <summary>
    /// Copies output channels [o0, o1) of the computed positions back to NCHW y, dropping border positions; with a
    /// residual (NCHW, y's shape), y = computed + residual, through max(v, 0) when relu.
    /// </summary>
    public void Extract<TV, S>(float* flat, int o0, int o1, int channels, int n0, in ConvGeometry g, float* y, float* residual = null, bool relu = false)
        where TV : unmanaged where S : ISimd<TV, float>
    {
        int oh = g.OutH, ow = g.OutW, plane = oh * ow;
        for (int o = o0; o < o1; o++)
            for (int i = 0; i < Images; i++)
            {
                float* src = flat + (long)o * Positions + (long)i * ImageRows * RowStride;
                long at = ((long)(n0 + i) * channels + o) * plane;
                float* dst = y + at;
                for (int r = 0; r < oh; r++)
                {
                    if (residual is null) CopyRow<TV, S>(src + (long)r * RowStride, dst + r * ow, ow);
                    else AddRow<TV, S>(src + (long)r * RowStride, residual + at + r * ow, dst + r * ow, ow, relu);
                }
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow<TV, S>(float* src, float* residual, float* dst, int n, bool relu) where TV : unmanaged where S : ISimd<TV, float>
    {
        int i = 0;
        for (; i + S.Count <= n; i += S.Count)
        {
            TV v = S.Add(S.Load(src + i), S.Load(residual + i));
            S.Store(relu ? S.Max(v, S.Zero) : v, dst + i);
        }
        if (i < n)
        {
            TV v = S.Add(S.LoadFirst(src + i, n - i), S.LoadFirst(residual + i, n - i));
            S.StoreFirst(relu ? S.Max(v, S.Zero) : v, dst + i, n - i);
        }
    }

    // Rows here are a few dozen floats: inline vector copies (masked at the end), not a Memmove call per row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow<TV, S>(float* src, float* dst, int n) where TV : unmanaged where S : ISimd<TV, float>
    {
        int i = 0;
        for (; i + S.Count <= n; i += S.Count) S.Store(S.Load(src + i), dst + i);
        if (i < n) S.StoreFirst(S.LoadFirst(src + i, n - i), dst + i, n - i);
    }
}

/// <summary><see cref="FlatConv"/> at one vector width.</summary>
internal static unsafe class FlatConv<TV, S> where TV : unmanaged where S : ISimd<TV, float>
{
    private const int R = FlatConv.Rows, V = FlatConv.Columns;


    [ThreadStatic] private static float[]? t_input;
    [ThreadStatic] private static float[]? t_output;
    [ThreadStatic] private static int[]? t_offsets;


    public static void ForwardPacked(float* x, float* w, float* bias, float* y, ConvGeometry g, bool relu, float* residual)
    {
        // With a residual, the ReLU comes after the addition, in Extract.
        bool tileRelu = relu && residual is null;
        int nb = FlatLayout.ChunkImages(g);
        int chunks = (g.Batch + nb - 1) / nb;
        int blocks = (g.OutChannels + R - 1) / R;
        // Few chunks (small batches) also split the output channels, so that a second thread has work.
        if (chunks >= 2 * WorkerPool.Threads || blocks <= 2 || WorkerPool.Threads == 1)
        {
            var task = new ChunkTask(x, w, bias, y, g, tileRelu, nb, residual, relu);
            if (chunks == 1) task.Run(0);
            else WorkerPool.For(chunks, task);
            return;
        }
        // Few chunks (small batches): each chunk is laid out once on this thread, then its output channels are split.
        int groups = Math.Min((blocks + 1) / 2, WorkerPool.Threads); // whole tiles of eight channels where possible
        for (int n0 = 0; n0 < g.Batch; n0 += nb)
        {
            var layout = new FlatLayout(g, Math.Min(nb, g.Batch - n0), S.Count);
            fixed (float* input = DirectConv.Scratch(ref t_input, (long)g.InChannels * layout.Planes * layout.ChannelLength),
                   output = DirectConv.Scratch(ref t_output, (long)g.OutChannels * layout.Positions))
            {
                layout.Fill<TV, S>(x, g.InChannels, n0, g, input);
                WorkerPool.For(groups, new GroupTask(input, w, bias, output, y, g, tileRelu, layout, n0, groups, blocks, residual, relu));
            }
        }
    }

    /// <summary>Every output channel of one chunk of images, laid out in the running thread's scratch.</summary>
    private sealed class ChunkTask(float* x, float* w, float* bias, float* y, ConvGeometry g, bool relu, int nb, float* residual, bool residualRelu)
        : IParallelTask
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int chunk)
        {
            int n0 = chunk * nb;
            var layout = new FlatLayout(g, Math.Min(nb, g.Batch - n0), S.Count);
            fixed (float* input = DirectConv.Scratch(ref t_input, (long)g.InChannels * layout.Planes * layout.ChannelLength),
                   output = DirectConv.Scratch(ref t_output, (long)g.OutChannels * layout.Positions))
            {
                layout.Fill<TV, S>(x, g.InChannels, n0, g, input);
                Channels(input, w, bias, output, 0, g.OutChannels, layout, g, relu);
                layout.Extract<TV, S>(output, 0, g.OutChannels, g.OutChannels, n0, g, y, residual, residualRelu);
            }
        }
    }

    /// <summary>One share of the output channels of a chunk already laid out in <paramref name="input"/>.</summary>
    private sealed class GroupTask(float* input, float* w, float* bias, float* output, float* y, ConvGeometry g, bool relu,
        FlatLayout layout, int n0, int groups, int blocks, float* residual, bool residualRelu) : IParallelTask
    {
        public void Run(int group)
        {
            int o0 = (int)((long)blocks * group / groups) * R, o1 = Math.Min(g.OutChannels, (int)((long)blocks * (group + 1) / groups) * R);
            Channels(input, w, bias, output, o0, o1, layout, g, relu);
            layout.Extract<TV, S>(output, o0, o1, g.OutChannels, n0, g, y, residual, residualRelu);
        }
    }

    /// <summary>Output channels [o0, o1): eight at a time where the CPU has the registers for it, then four.</summary>
    private static void Channels(float* input, float* w, float* bias, float* output, int o0, int o1, in FlatLayout layout, in ConvGeometry g, bool relu)
    {
        t_offsets ??= new int[Math.Max(g.K, 64)];
        if (t_offsets.Length < g.K) t_offsets = new int[g.K];
        fixed (int* offsets = t_offsets)
        {
            layout.TapOffsets(g, offsets);
            int o = o0;
            if (SimdWidth.VectorRegisters >= 32)
                for (; o + 2 * R <= o1; o += 2 * R) Block8(input, w, offsets, bias, output, o, layout, g, relu);
            for (; o < o1; o += R) Block(input, w, offsets, bias, output, o, Math.Min(R, o1 - o), layout, g, relu);
        }
    }

    /// <summary>
    /// Output channels [o0, o0 + 8) at every position, 8 x 3 vectors per register tile (24 accumulators): each input
    /// vector, an unaligned load that usually spans two cache lines, feeds eight FMAs instead of four.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block8(float* input, float* w, int* offsets, float* bias, float* output, int o0, in FlatLayout layout, in ConvGeometry g, bool relu)
    {
        int taps = g.K, lanes = S.Count, positions = layout.Positions;
        float* w0 = w + (long)o0 * taps; // packed: channels o0..o0+3, then o0+4..o0+7 one block further
        int q0 = 0;
        for (; q0 + V * lanes <= positions; q0 += V * lanes)
        {
            TV a0 = Start(bias, o0), a1 = Start(bias, o0 + 1), a2 = Start(bias, o0 + 2), a3 = Start(bias, o0 + 3);
            TV a4 = Start(bias, o0 + 4), a5 = Start(bias, o0 + 5), a6 = Start(bias, o0 + 6), a7 = Start(bias, o0 + 7);
            TV e0 = a0, e1 = a1, e2 = a2, e3 = a3, e4 = a4, e5 = a5, e6 = a6, e7 = a7;
            TV f0 = a0, f1 = a1, f2 = a2, f3 = a3, f4 = a4, f5 = a5, f6 = a6, f7 = a7;
            float* origin = input + q0;
            float* wa = w0, wb = w0 + (long)taps * R;
            for (int t = 0; t < taps; t++, wa += R, wb += R)
            {
                float* at = origin + offsets[t];
                TV u = S.Load(at), v = S.Load(at + lanes), z = S.Load(at + 2 * lanes);
                TV k = S.Splat(wa[0]);
                a0 = S.Fma(k, u, a0); e0 = S.Fma(k, v, e0); f0 = S.Fma(k, z, f0);
                k = S.Splat(wa[1]);
                a1 = S.Fma(k, u, a1); e1 = S.Fma(k, v, e1); f1 = S.Fma(k, z, f1);
                k = S.Splat(wa[2]);
                a2 = S.Fma(k, u, a2); e2 = S.Fma(k, v, e2); f2 = S.Fma(k, z, f2);
                k = S.Splat(wa[3]);
                a3 = S.Fma(k, u, a3); e3 = S.Fma(k, v, e3); f3 = S.Fma(k, z, f3);
                k = S.Splat(wb[0]);
                a4 = S.Fma(k, u, a4); e4 = S.Fma(k, v, e4); f4 = S.Fma(k, z, f4);
                k = S.Splat(wb[1]);
                a5 = S.Fma(k, u, a5); e5 = S.Fma(k, v, e5); f5 = S.Fma(k, z, f5);
                k = S.Splat(wb[2]);
                a6 = S.Fma(k, u, a6); e6 = S.Fma(k, v, e6); f6 = S.Fma(k, z, f6);
                k = S.Splat(wb[3]);
                a7 = S.Fma(k, u, a7); e7 = S.Fma(k, v, e7); f7 = S.Fma(k, z, f7);
            }
            float* dst = output + (long)o0 * positions + q0;
            Store(dst, relu, a0, e0, f0);
            Store(dst + positions, relu, a1, e1, f1);
            Store(dst + 2L * positions, relu, a2, e2, f2);
            Store(dst + 3L * positions, relu, a3, e3, f3);
            Store(dst + 4L * positions, relu, a4, e4, f4);
            Store(dst + 5L * positions, relu, a5, e5, f5);
            Store(dst + 6L * positions, relu, a6, e6, f6);
            Store(dst + 7L * positions, relu, a7, e7, f7);
        }
        for (; q0 < positions; q0 += lanes) Column8(input + q0, w0, offsets, bias, output + (long)o0 * positions + q0, o0, taps, positions, relu);
    }

    /// <summary>
    /// <see cref="Block8"/> for one vector of positions: the last one or two vectors of a chunk, which rounding the
    /// positions up to whole tiles computed for nothing (a 7x7 image at batch 1: 96 positions for 64).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Column8(float* origin, float* w0, int* offsets, float* bias, float* dst, int o0, int taps, int positions, bool relu)
    {
        TV a0 = Start(bias, o0), a1 = Start(bias, o0 + 1), a2 = Start(bias, o0 + 2), a3 = Start(bias, o0 + 3);
        TV a4 = Start(bias, o0 + 4), a5 = Start(bias, o0 + 5), a6 = Start(bias, o0 + 6), a7 = Start(bias, o0 + 7);
        float* wa = w0, wb = w0 + (long)taps * R;
        for (int t = 0; t < taps; t++, wa += R, wb += R)
        {
            TV u = S.Load(origin + offsets[t]);
            a0 = S.Fma(S.Splat(wa[0]), u, a0); a1 = S.Fma(S.Splat(wa[1]), u, a1);
            a2 = S.Fma(S.Splat(wa[2]), u, a2); a3 = S.Fma(S.Splat(wa[3]), u, a3);
            a4 = S.Fma(S.Splat(wb[0]), u, a4); a5 = S.Fma(S.Splat(wb[1]), u, a5);
            a6 = S.Fma(S.Splat(wb[2]), u, a6); a7 = S.Fma(S.Splat(wb[3]), u, a7);
        }
        Store(dst, relu, a0); Store(dst + positions, relu, a1); Store(dst + 2L * positions, relu, a2); Store(dst + 3L * positions, relu, a3);
        Store(dst + 4L * positions, relu, a4); Store(dst + 5L * positions, relu, a5); Store(dst + 6L * positions, relu, a6); Store(dst + 7L * positions, relu, a7);
    }

    /// <summary><see cref="Block"/> for one vector of positions (see <see cref="Column8"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Column4(float* origin, float* w0, int* offsets, float b0, float b1, float b2, float b3, float* dst, int rows, int taps, int positions, bool relu)
    {
        TV a0 = S.Splat(b0), a1 = S.Splat(b1), a2 = S.Splat(b2), a3 = S.Splat(b3);
        float* wt = w0;
        for (int t = 0; t < taps; t++, wt += R)
        {
            TV u = S.Load(origin + offsets[t]);
            a0 = S.Fma(S.Splat(wt[0]), u, a0); a1 = S.Fma(S.Splat(wt[1]), u, a1);
            a2 = S.Fma(S.Splat(wt[2]), u, a2); a3 = S.Fma(S.Splat(wt[3]), u, a3);
        }
        Store(dst, relu, a0);
        if (rows > 1) Store(dst + positions, relu, a1);
        if (rows > 2) Store(dst + 2L * positions, relu, a2);
        if (rows > 3) Store(dst + 3L * positions, relu, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Start(float* bias, int o) => S.Splat(bias is null ? 0 : bias[o]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* dst, bool relu, TV a) => S.Store(relu ? S.Max(a, S.Zero) : a, dst);

    /// <summary>Stores three vectors, through max(v, 0) for the fused ReLU (IEEE maximum keeps NaN, as relu does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* dst, bool relu, TV a, TV e, TV f)
    {
        if (relu)
        {
            TV zero = S.Zero;
            a = S.Max(a, zero); e = S.Max(e, zero); f = S.Max(f, zero);
        }
        S.Store(a, dst);
        S.Store(e, dst + S.Count);
        S.Store(f, dst + 2 * S.Count);
    }

    /// <summary>Output channels [o0, o0 + rows) at every position of the chunk, R x V vectors per register tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(float* input, float* w, int* offsets, float* bias, float* output, int o0, int rows, in FlatLayout layout, in ConvGeometry g, bool relu)
    {
        int taps = g.K, lanes = S.Count, positions = layout.Positions;
        // Channels missing from the last block have zero weights (packed so) and are not stored.
        float* w0 = w + (long)o0 * taps;
        float b0 = bias is null ? 0 : bias[o0], b1 = bias is null || rows < 2 ? 0 : bias[o0 + 1];
        float b2 = bias is null || rows < 3 ? 0 : bias[o0 + 2], b3 = bias is null || rows < 4 ? 0 : bias[o0 + 3];
        int q0 = 0;
        for (; q0 + V * lanes <= positions; q0 += V * lanes)
        {
            TV a0 = S.Splat(b0), a1 = S.Splat(b1), a2 = S.Splat(b2), a3 = S.Splat(b3);
            TV e0 = a0, e1 = a1, e2 = a2, e3 = a3;
            TV f0 = a0, f1 = a1, f2 = a2, f3 = a3;
            float* origin = input + q0;
            float* wt = w0;
            for (int t = 0; t < taps; t++, wt += R)
            {
                float* at = origin + offsets[t];
                TV u = S.Load(at), v = S.Load(at + lanes), z = S.Load(at + 2 * lanes);
                TV k = S.Splat(wt[0]);
                a0 = S.Fma(k, u, a0); e0 = S.Fma(k, v, e0); f0 = S.Fma(k, z, f0);
                k = S.Splat(wt[1]);
                a1 = S.Fma(k, u, a1); e1 = S.Fma(k, v, e1); f1 = S.Fma(k, z, f1);
                k = S.Splat(wt[2]);
                a2 = S.Fma(k, u, a2); e2 = S.Fma(k, v, e2); f2 = S.Fma(k, z, f2);
                k = S.Splat(wt[3]);
                a3 = S.Fma(k, u, a3); e3 = S.Fma(k, v, e3); f3 = S.Fma(k, z, f3);
            }
            float* dst = output + (long)o0 * positions + q0;
            Store(dst, relu, a0, e0, f0);
            if (rows > 1) Store(dst + positions, relu, a1, e1, f1);
            if (rows > 2) Store(dst + 2L * positions, relu, a2, e2, f2);
            if (rows > 3) Store(dst + 3L * positions, relu, a3, e3, f3);
        }
        for (; q0 < positions; q0 += lanes)
            Column4(input + q0, w0, offsets, b0, b1, b2, b3, output + (long)o0 * positions + q0, rows, taps, positions, relu);
    }

    public static void BackwardWeight(float* x, float* gy, float* gw, ConvGeometry g, int maxParts)
    {
        long size = (long)g.OutChannels * g.K;
        new Span<float>(gw, checked((int)size)).Clear();
        if (g.Batch == 0) return;
        int nb = FlatLayout.WeightChunkImages(g);
        int chunks = (g.Batch + nb - 1) / nb;
        // A fixed number of partial sums, each over fixed chunks and summed in a fixed order: the result does not
        // depend on the thread count.
        int parts = Math.Min(chunks, maxParts);
        var partials = ArrayPool<float>.Shared.Rent(checked((int)(parts * size)));
        try
        {
            fixed (float* acc = partials)
            {
                var task = new WeightTask(x, gy, acc, g, nb, chunks, parts);
                if (parts == 1) task.Run(0);
                else WorkerPool.For(parts, task);
                var total = new Span<float>(gw, (int)size);
                for (int part = 0; part < parts; part++)
                    TensorPrimitives.Add(total, new ReadOnlySpan<float>(acc + part * size, (int)size), total);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(partials);
        }
    }

    private sealed class WeightTask(float* x, float* gy, float* partials, ConvGeometry g, int nb, int chunks, int parts) : IParallelTask
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int part)
        {
            float* acc = partials + (long)part * g.OutChannels * g.K;
            new Span<float>(acc, g.OutChannels * g.K).Clear();
            var largest = new FlatLayout(g, Math.Min(nb, g.Batch), S.Count);
            fixed (float* input = DirectConv.Scratch(ref t_input, (long)g.InChannels * largest.ChannelLength),
                   grad = DirectConv.Scratch(ref t_output, (long)g.OutChannels * largest.Positions))
            {
                for (int chunk = part; chunk < chunks; chunk += parts)
                {
                    int n0 = chunk * nb;
                    var layout = new FlatLayout(g, Math.Min(nb, g.Batch - n0), S.Count);
                    layout.Fill<TV, S>(x, g.InChannels, n0, g, input);
                    layout.FillOutput<TV, S>(gy, g.OutChannels, n0, g, grad);
                    int taps = g.KernelH * g.KernelW;
                    if (g.KernelH == 3 && g.KernelW == 3 && SimdWidth.VectorRegisters >= 32)
                    {
                        int o0 = 0;
                        for (; o0 + 3 <= g.OutChannels; o0 += 3)
                            for (int c = 0; c < g.InChannels; c++)
                                Taps3x3Triple(grad, input, acc, o0, c, layout, g);
                        for (; o0 < g.OutChannels; o0 += 2)
                            for (int c = 0; c < g.InChannels; c++)
                                Taps3x3(grad, input, acc, o0, c, layout, g);
                        continue;
                    }
                    for (int ky = 0; ky < g.KernelH; ky++)
                        for (int kx = 0; kx < g.KernelW; kx++)
                            for (int o0 = 0; o0 < g.OutChannels; o0 += R)
                                for (int c0 = 0; c0 < g.InChannels; c0 += V)
                                    TapBlock(grad, input + ky * layout.RowStride + kx, acc, o0, c0, ky * g.KernelW + kx, taps, layout, g);
                }
            }
        }
    }

    /// <summary>acc[o, c, tap] += dot(gy[o], input[c] shifted by the tap) for R output x V input channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TapBlock(float* grad, float* shifted, float* acc, int o0, int c0, int tap, int taps, in FlatLayout layout, in ConvGeometry g)
    {
        int rows = Math.Min(R, g.OutChannels - o0), cols = Math.Min(V, g.InChannels - c0);
        int positions = layout.Positions, length = layout.ChannelLength, lanes = S.Count;
        // Missing rows or columns of an edge block repeat the block's first and are not accumulated.
        float* g0 = grad + (long)o0 * positions;
        float* g1 = rows > 1 ? g0 + positions : g0, g2 = rows > 2 ? g0 + 2L * positions : g0, g3 = rows > 3 ? g0 + 3L * positions : g0;
        float* x0 = shifted + (long)c0 * length;
        float* x1 = cols > 1 ? x0 + length : x0, x2 = cols > 2 ? x0 + 2L * length : x0;
        TV a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero;
        TV e0 = S.Zero, e1 = S.Zero, e2 = S.Zero, e3 = S.Zero;
        TV f0 = S.Zero, f1 = S.Zero, f2 = S.Zero, f3 = S.Zero;
        for (int q = 0; q < positions; q += lanes)
        {
            TV u = S.Load(x0 + q), v = S.Load(x1 + q), z = S.Load(x2 + q);
            TV k = S.Load(g0 + q);
            a0 = S.Fma(k, u, a0); e0 = S.Fma(k, v, e0); f0 = S.Fma(k, z, f0);
            k = S.Load(g1 + q);
            a1 = S.Fma(k, u, a1); e1 = S.Fma(k, v, e1); f1 = S.Fma(k, z, f1);
            k = S.Load(g2 + q);
            a2 = S.Fma(k, u, a2); e2 = S.Fma(k, v, e2); f2 = S.Fma(k, z, f2);
            k = S.Load(g3 + q);
            a3 = S.Fma(k, u, a3); e3 = S.Fma(k, v, e3); f3 = S.Fma(k, z, f3);
        }
        long k0 = (long)g.InChannels * taps; // stride between output channels in acc
        float* slot = acc + (long)o0 * k0 + (long)c0 * taps + tap;
        Add(slot, cols, taps, a0, e0, f0);
        if (rows > 1) Add(slot + k0, cols, taps, a1, e1, f1);
        if (rows > 2) Add(slot + 2 * k0, cols, taps, a2, e2, f2);
        if (rows > 3) Add(slot + 3 * k0, cols, taps, a3, e3, f3);
    }

    /// <summary>
    /// acc[o, c, all nine taps] += dot(gy[o], input[c] shifted by each tap) for two output channels: each vector of
    /// the output gradient feeds nine taps, so every input row is read from L2 once per pair of output channels
    /// instead of once per tap (18 accumulators: CPUs with 32 vector registers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Taps3x3(float* grad, float* input, float* acc, int o0, int c, in FlatLayout layout, in ConvGeometry g)
    {
        int positions = layout.Positions, s1 = layout.RowStride, s2 = 2 * layout.RowStride, lanes = S.Count;
        bool pair = o0 + 1 < g.OutChannels;
        float* g0 = grad + (long)o0 * positions, g1 = pair ? g0 + positions : g0;
        float* x = input + (long)c * layout.ChannelLength;
        TV a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero, a4 = S.Zero, a5 = S.Zero, a6 = S.Zero, a7 = S.Zero, a8 = S.Zero;
        TV b0 = S.Zero, b1 = S.Zero, b2 = S.Zero, b3 = S.Zero, b4 = S.Zero, b5 = S.Zero, b6 = S.Zero, b7 = S.Zero, b8 = S.Zero;
        for (int q = 0; q < positions; q += lanes)
        {
            TV u = S.Load(g0 + q), v = S.Load(g1 + q);
            float* r0 = x + q, r1 = r0 + s1, r2 = r0 + s2;
            TV t = S.Load(r0); a0 = S.Fma(u, t, a0); b0 = S.Fma(v, t, b0);
            t = S.Load(r0 + 1); a1 = S.Fma(u, t, a1); b1 = S.Fma(v, t, b1);
            t = S.Load(r0 + 2); a2 = S.Fma(u, t, a2); b2 = S.Fma(v, t, b2);
            t = S.Load(r1); a3 = S.Fma(u, t, a3); b3 = S.Fma(v, t, b3);
            t = S.Load(r1 + 1); a4 = S.Fma(u, t, a4); b4 = S.Fma(v, t, b4);
            t = S.Load(r1 + 2); a5 = S.Fma(u, t, a5); b5 = S.Fma(v, t, b5);
            t = S.Load(r2); a6 = S.Fma(u, t, a6); b6 = S.Fma(v, t, b6);
            t = S.Load(r2 + 1); a7 = S.Fma(u, t, a7); b7 = S.Fma(v, t, b7);
            t = S.Load(r2 + 2); a8 = S.Fma(u, t, a8); b8 = S.Fma(v, t, b8);
        }
        float* slot = acc + ((long)o0 * g.InChannels + c) * 9;
        AddNine(slot, a0, a1, a2, a3, a4, a5, a6, a7, a8);
        if (pair) AddNine(slot + (long)g.InChannels * 9, b0, b1, b2, b3, b4, b5, b6, b7, b8);
    }

    /// <summary>
    /// <see cref="Taps3x3"/> for three output channels: 27 accumulators, and each of the nine (unaligned) input loads
    /// feeds three FMAs instead of two, which is what bounds this loop (12 loads per 27 FMAs instead of 11 per 18).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Taps3x3Triple(float* grad, float* input, float* acc, int o0, int c, in FlatLayout layout, in ConvGeometry g)
    {
        int positions = layout.Positions, s1 = layout.RowStride, s2 = 2 * layout.RowStride, lanes = S.Count;
        float* g0 = grad + (long)o0 * positions, g1 = g0 + positions, g2 = g1 + positions;
        float* x = input + (long)c * layout.ChannelLength;
        TV a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero, a4 = S.Zero, a5 = S.Zero, a6 = S.Zero, a7 = S.Zero, a8 = S.Zero;
        TV b0 = S.Zero, b1 = S.Zero, b2 = S.Zero, b3 = S.Zero, b4 = S.Zero, b5 = S.Zero, b6 = S.Zero, b7 = S.Zero, b8 = S.Zero;
        TV d0 = S.Zero, d1 = S.Zero, d2 = S.Zero, d3 = S.Zero, d4 = S.Zero, d5 = S.Zero, d6 = S.Zero, d7 = S.Zero, d8 = S.Zero;
        for (int q = 0; q < positions; q += lanes)
        {
            TV u = S.Load(g0 + q), v = S.Load(g1 + q), w = S.Load(g2 + q);
            float* r0 = x + q, r1 = r0 + s1, r2 = r0 + s2;
            TV t = S.Load(r0); a0 = S.Fma(u, t, a0); b0 = S.Fma(v, t, b0); d0 = S.Fma(w, t, d0);
            t = S.Load(r0 + 1); a1 = S.Fma(u, t, a1); b1 = S.Fma(v, t, b1); d1 = S.Fma(w, t, d1);
            t = S.Load(r0 + 2); a2 = S.Fma(u, t, a2); b2 = S.Fma(v, t, b2); d2 = S.Fma(w, t, d2);
            t = S.Load(r1); a3 = S.Fma(u, t, a3); b3 = S.Fma(v, t, b3); d3 = S.Fma(w, t, d3);
            t = S.Load(r1 + 1); a4 = S.Fma(u, t, a4); b4 = S.Fma(v, t, b4); d4 = S.Fma(w, t, d4);
            t = S.Load(r1 + 2); a5 = S.Fma(u, t, a5); b5 = S.Fma(v, t, b5); d5 = S.Fma(w, t, d5);
            t = S.Load(r2); a6 = S.Fma(u, t, a6); b6 = S.Fma(v, t, b6); d6 = S.Fma(w, t, d6);
            t = S.Load(r2 + 1); a7 = S.Fma(u, t, a7); b7 = S.Fma(v, t, b7); d7 = S.Fma(w, t, d7);
            t = S.Load(r2 + 2); a8 = S.Fma(u, t, a8); b8 = S.Fma(v, t, b8); d8 = S.Fma(w, t, d8);
        }
        long next = (long)g.InChannels * 9;
        float* slot = acc + ((long)o0 * g.InChannels + c) * 9;
        AddNine(slot, a0, a1, a2, a3, a4, a5, a6, a7, a8);
        AddNine(slot + next, b0, b1, b2, b3, b4, b5, b6, b7, b8);
        AddNine(slot + 2 * next, d0, d1, d2, d3, d4, d5, d6, d7, d8);
    }

    /// <summary>slot[tap] += the lanes' sum of each tap's accumulator, taps 0-8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddNine(float* slot, TV t0, TV t1, TV t2, TV t3, TV t4, TV t5, TV t6, TV t7, TV t8)
    {
        slot[0] += S.Sum(t0); slot[1] += S.Sum(t1); slot[2] += S.Sum(t2); slot[3] += S.Sum(t3); slot[4] += S.Sum(t4);
        slot[5] += S.Sum(t5); slot[6] += S.Sum(t6); slot[7] += S.Sum(t7); slot[8] += S.Sum(t8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(float* slot, int cols, int taps, TV a, TV e, TV f)
    {
        slot[0] += S.Sum(a);
        if (cols > 1) slot[taps] += S.Sum(e);
        if (cols > 2) slot[2 * taps] += S.Sum(f);
    }
}
