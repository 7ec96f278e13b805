using System.Runtime.CompilerServices;

namespace DeepSharp.Kernels;

/// <summary>
/// Where a chunk of images (or, for a value the inference plan keeps flat, a whole batch) lives in the flat layout of
/// <see cref="FlatConv"/>, and where each tap of the kernel reads.
/// Stride 1: each input channel is one plane of <c>InH + PadH</c> rows of <c>InW + PadW</c> columns per image (borders
/// shared between neighbours), and tap (ky, kx) reads ky * RowStride + kx past the output position. Larger strides:
/// each input channel is split into phase planes (plane (a, b) holds the input rows a, a + sH, ... and columns b, b + sW,
/// ...) laid out on the output grid, so a tap reads one phase plane at a small shift and every position of a tile again
/// reads consecutive floats; only the phases some tap reads are stored (a strided 1x1 convolution keeps one).
/// A stride-1 chunk can instead place its images side by side (<see cref="SideBySide"/>): a row of the layout holds
/// row r of every image, each in a slot of <c>InW + PadW</c> columns (slots share their border columns as stacked
/// images share their border rows), so a chunk has one band of border rows instead of one per image and the
/// positions that stacking computes in them are gone: 29 % of LeNet-5's unpadded 5x5 layer, 12.5 % at ResNet's 7x7.
/// The whole-batch layouts the inference plan keeps between layers stay stacked.
/// </summary>
internal readonly unsafe struct FlatLayout
{
    public readonly int RowStride;   // stride 1: InW + PadW; strided: OutW plus the taps' spread in phase columns
    public readonly int ImageRows;   // stride 1: InH + PadH; strided: OutH plus the taps' spread in phase rows
    public readonly int Images;
    public readonly int Positions;   // Used, rounded up to whole vectors
    public readonly int ChannelLength; // Positions plus the kernel's reach: every tap of every tile is readable
    public readonly int Planes;      // planes per input channel: 1, or the phases the taps read
    public readonly int Origin;      // stride 1: where image 0's first input row and column are (past the borders)
    public readonly int ImagePitch;  // floats from one image's first row to the next image's: stacked, ImageRows * RowStride
    public readonly int SlotWidth;   // columns of one image in a row: RowStride, or InW + PadW side by side
    public readonly bool SideBySide; // the images of a stride-1 chunk share rows (see the summary)
    private readonly Axis _rows, _columns;

    /// <summary>
    /// The layout of <paramref name="images"/> images of <paramref name="g"/>'s input. A strided layout can be given
    /// more columns and rows than its taps need (<paramref name="rowStride"/>, <paramref name="imageRows"/>), so that
    /// its output positions are those of a following layer's flat input (see <see cref="FlatShape"/>).
    /// <paramref name="sideBySide"/> places the images of a stride-1 layout next to each other in every row.
    /// </summary>
    public FlatLayout(in ConvGeometry g, int images, int lanes, int rowStride = 0, int imageRows = 0, bool sideBySide = false)
    {
        Images = images;
        SideBySide = sideBySide && g.UnitStride;
        int reachRows, reachColumns; // how far past an output position its taps read, in rows and columns
        if (g.UnitStride)
        {
            SlotWidth = g.InW + g.PadW;
            RowStride = SideBySide ? Math.Max(images, 1) * SlotWidth : SlotWidth;
            ImageRows = g.InH + g.PadH;
            if (rowStride > SlotWidth || imageRows > ImageRows)
                throw new ArgumentException("FlatLayout: a stride-1 layout has the rows and columns its padding gives");
            Origin = g.PadH * RowStride + g.PadW;
            Planes = 1;
            (reachRows, reachColumns) = (g.KernelH - 1, g.KernelW - 1);
        }
        else
        {
            _rows = new Axis(g.KernelH, g.PadH, g.StrideH);
            _columns = new Axis(g.KernelW, g.PadW, g.StrideW);
            RowStride = SlotWidth = Math.Max(g.OutW + _columns.Spread, rowStride);
            ImageRows = Math.Max(g.OutH + _rows.Spread, imageRows);
            Planes = BitCount(_rows.Phases) * BitCount(_columns.Phases);
            (reachRows, reachColumns) = (_rows.Spread, _columns.Spread);
        }
        ImagePitch = SideBySide ? SlotWidth : ImageRows * RowStride;
        Positions = (Used + lanes - 1) / lanes * lanes;
        // Plus a whole register tile of slack past the last position.
        ChannelLength = Positions + reachRows * RowStride + reachColumns + FlatConv.Columns * lanes;
    }

    private bool Strided => _rows.Stride != 0; // the stride-1 layout leaves its axes unset

    /// <summary>Positions the images span (<see cref="Positions"/> before rounding to vectors).</summary>
    public int Used => (SideBySide ? 1 : Images) * ImageRows * RowStride;

    /// <summary>Positions up to the last image's last output (the border rows and columns after it hold no output).</summary>
    public int Computed(in ConvGeometry g) => Images == 0 ? 0 : (Images - 1) * ImagePitch + (g.OutH - 1) * RowStride + g.OutW;

    /// <summary>The input channels of a whole-batch stride-1 layout at <paramref name="flat"/>, as a <see cref="PlaneView"/>.</summary>
    public PlaneView View(float* flat) => new(flat + Origin, ImagePitch, ChannelLength, RowStride);

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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // row loops that run for every layer: no tier-0 phase, helpers inlined
    public void Fill<TV, S>(PlaneView source, int channels, int n0, in ConvGeometry g, float* flat) where TV : unmanaged where S : ISimd<TV, float>
    {
        int used = Used;
        for (int c = 0; c < channels; c++)
            for (int p = 0; p < Planes; p++)
                new Span<float>(flat + (long)(c * Planes + p) * ChannelLength + used, ChannelLength - used).Clear();
        if (Strided)
        {
            FillPhases<TV, S>(source, channels, n0, g, flat);
            return;
        }
        int h = g.InH, w = g.InW, padH = g.PadH, padW = g.PadW;
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < Images; i++)
            {
                float* src = source.At(n0 + i, c);
                float* dst = flat + (long)c * ChannelLength + (long)i * ImagePitch;
                for (int r = 0; r < padH; r++) // this image's part of the border rows above it (below the previous image)
                    new Span<float>(dst + (long)r * RowStride, SlotWidth).Clear();
                dst += padH * RowStride;
                for (int r = 0; r < h; r++, dst += RowStride)
                {
                    for (int k = 0; k < padW; k++) dst[k] = 0; // the border between this row and the previous one
                    CopyRow<TV, S>(src + (long)r * source.RowPitch, dst + padW, w);
                }
            }
    }

    /// <summary>The phase planes of a strided layout: plane row R, column C of phase (a, b) is input (sH (R + min) + a, sW (C + min) + b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FillPhases<TV, S>(PlaneView source, int channels, int n0, in ConvGeometry g, float* flat) where TV : unmanaged where S : ISimd<TV, float>
    {
        int h = g.InH, w = g.InW, sh = _rows.Stride, sw = _columns.Stride;
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
                        float* src = source.At(n0 + i, c);
                        float* dst = flat + (long)(c * Planes + slot) * ChannelLength + (long)i * ImagePitch;
                        for (int r = 0; r < ImageRows; r++)
                        {
                            float* to = dst + (long)r * RowStride;
                            int y = sh * (r + _rows.MinShift) + a;
                            if ((uint)y >= (uint)h)
                            {
                                new Span<float>(to, RowStride).Clear();
                                continue;
                            }
                            int x0 = sw * (first + _columns.MinShift) + b;
                            float* from = src + (long)y * source.RowPitch + x0;
                            for (int col = 0; col < first; col++) to[col] = 0;
                            if (sw == 2) CopyEvens<TV, S>(from, w - x0, to + first, last - first);
                            else
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
    /// (image i's output row r at i * ImagePitch + r * RowStride), zeros at every other position.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FillOutput<TV, S>(float* gy, int channels, int n0, in ConvGeometry g, float* flat) where TV : unmanaged where S : ISimd<TV, float>
    {
        new Span<float>(flat, checked(channels * Positions)).Clear();
        int oh = g.OutH, ow = g.OutW, plane = oh * ow;
        for (int o = 0; o < channels; o++)
            for (int i = 0; i < Images; i++)
            {
                float* src = gy + ((long)(n0 + i) * channels + o) * plane;
                float* dst = flat + (long)o * Positions + (long)i * ImagePitch;
                for (int r = 0; r < oh; r++) CopyRow<TV, S>(src + r * ow, dst + (long)r * RowStride, ow);
            }
    }

    /// <summary>
    /// Copies output channels [o0, o1) of the computed positions (channel o at flat + o * pitch) back to NCHW y,
    /// dropping border positions; with a residual (planes of y's shape: NCHW or flat), y = computed + residual, through
    /// max(v, 0) when relu.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Extract<TV, S>(float* flat, long pitch, int o0, int o1, int channels, int n0, in ConvGeometry g, float* y, PlaneView? residual = null, bool relu = false)
        where TV : unmanaged where S : ISimd<TV, float>
    {
        int oh = g.OutH, ow = g.OutW, plane = oh * ow;
        for (int o = o0; o < o1; o++)
            for (int i = 0; i < Images; i++)
            {
                float* src = flat + o * pitch + (long)i * ImagePitch;
                float* dst = y + ((long)(n0 + i) * channels + o) * plane;
                if (residual is not { } res)
                {
                    for (int r = 0; r < oh; r++) CopyRow<TV, S>(src + (long)r * RowStride, dst + r * ow, ow);
                    continue;
                }
                float* add = res.At(n0 + i, o);
                for (int r = 0; r < oh; r++) AddRow<TV, S>(src + (long)r * RowStride, add + (long)r * res.RowPitch, dst + r * ow, ow, relu);
            }
    }

    /// <summary>
    /// Zeros what surrounds the images of a whole-batch layout at <paramref name="flat"/> (the border rows above the
    /// first and below the last image and the slack past them) for <paramref name="channels"/> channels: a convolution
    /// writing its output into this layout writes every position between them (see <see cref="ClearBorders"/>).
    /// </summary>
    public void ClearOutside(float* flat, int channels)
    {
        for (int c = 0; c < channels; c++)
        {
            float* plane = flat + (long)c * ChannelLength;
            new Span<float>(plane, Origin).Clear();
            new Span<float>(plane + Origin + Used, ChannelLength - Origin - Used).Clear();
        }
    }

    /// <summary>
    /// Zeros the border positions of output channels [o0, o1) of <paramref name="images"/> images just written at
    /// <paramref name="output"/> (channel o at + o * pitch) in output positions: the columns past <paramref name="outW"/>
    /// of every row and the rows past <paramref name="outH"/> of every image, which in a layout of the same rows and
    /// columns shifted by <see cref="Origin"/> are the borders.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ClearBorders(float* output, long pitch, int o0, int o1, int images, int outH, int outW)
    {
        if (SideBySide) throw new InvalidOperationException("FlatLayout: a flat output is a stacked whole-batch layout");
        for (int o = o0; o < o1; o++)
            for (int i = 0; i < images; i++)
            {
                float* image = output + o * pitch + (long)i * ImagePitch;
                for (int r = 0; r < outH; r++)
                    for (int col = outW; col < RowStride; col++) image[r * RowStride + col] = 0;
                new Span<float>(image + outH * RowStride, (ImageRows - outH) * RowStride).Clear();
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

    /// <summary>to[i] = from[2 i] for i &lt; count, reading only the <paramref name="available"/> floats from <paramref name="from"/> on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CopyEvens<TV, S>(float* from, int available, float* to, int count) where TV : unmanaged where S : ISimd<TV, float>
    {
        int lanes = S.Count;
        for (int i = 0; i < count; i += lanes, from += 2 * lanes, available -= 2 * lanes)
        {
            TV lo = available >= lanes ? S.Load(from) : S.LoadFirst(from, available);
            TV hi = available >= 2 * lanes ? S.Load(from + lanes) : available > lanes ? S.LoadFirst(from + lanes, available - lanes) : S.Zero;
            TV even = S.Evens(lo, hi);
            if (count - i >= lanes) S.Store(even, to + i);
            else S.StoreFirst(even, to + i, count - i);
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

/// <summary>
/// Where the planes of a batch are: image n's channel c starts at <c>At(n, c)</c> and its rows are
/// <see cref="RowPitch"/> floats apart. NCHW arrays and whole-batch flat layouts are both such views.
/// </summary>
internal readonly unsafe struct PlaneView(float* origin, long imagePitch, long channelPitch, int rowPitch)
{
    public readonly int RowPitch = rowPitch;

    public float* At(int image, int channel) => origin + image * imagePitch + channel * channelPitch;

    /// <summary>The channels from <paramref name="c0"/> on.</summary>
    public PlaneView From(int c0) => new(origin + c0 * channelPitch, imagePitch, channelPitch, RowPitch);

    /// <summary>An NCHW array of <paramref name="channels"/> planes of <paramref name="h"/> x <paramref name="w"/>.</summary>
    public static PlaneView Nchw(float* x, int channels, int h, int w) => new(x, (long)channels * h * w, (long)h * w, w);
}

/// <summary>
/// An activation kept in the flat layout between layers (the inference plan's convolutions read and write it without
/// converting to NCHW): <see cref="Channels"/> planes of <see cref="H"/> x <see cref="W"/> laid out as the input of a
/// stride-1 convolution with padding (<see cref="PadH"/>, <see cref="PadW"/>) and a (2 pad + 1)-wide kernel would
/// lay them out, for a whole batch. A producing convolution writes its output at <see cref="FlatLayout.Origin"/> past
/// its own output positions, which needs its layout's rows and columns to be this one's.
/// </summary>
internal readonly record struct FlatShape(int Channels, int H, int W, int PadH, int PadW)
{
    /// <summary>The geometry whose input layout this is.</summary>
    public ConvGeometry Geometry => new(1, Channels, H, W, Channels, 2 * PadH + 1, 2 * PadW + 1, 1, 1, PadH, PadW, 1, 1, 1);

    public FlatLayout Layout(int batch, int lanes) => new(Geometry, batch, lanes);

    /// <summary>Floats a batch takes at any vector width (the layout's slack grows with the lanes).</summary>
    public long Floats(int batch) => (long)Channels * Layout(batch, 16).ChannelLength;
}
