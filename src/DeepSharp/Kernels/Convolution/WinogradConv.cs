using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// Winograd F(2x2, 3x3) (Lavin and Gray, 2015) for float32 3x3 stride-1 convolutions with padding 1 and at least
/// <see cref="MinChannels"/> input and output channels: the forward pass and the input gradient (the same convolution
/// with flipped weights) of ResNet's and the cnn model's 3x3 layers. Each 2x2 block of outputs is
/// A^T [sum over c of (G w G^T) . (B^T d B)] A over its 4x4 input tile d: 16 products per channel pair instead of 36
/// multiply-adds. The 16 element-wise products over channels are 16 matrix products [O, C] x [C, tiles], which the
/// flat kernel's register tiles compute (<see cref="FlatConv{TV,S}.Products"/>); B and A hold only 0 and +-1 and G's
/// halves are exact, so the transforms are additions, a vector of tiles at a time. The weight gradient is
/// G^T [sum over tiles of (A gy A^T) . (B^T d B)] G: 16 dot products over tiles per channel pair instead of 9 over
/// positions (4 per 2x2 block of outputs instead of 9 per output).
/// </summary>
internal static unsafe class WinogradConv
{
    /// <summary>Fewer channels leave the products too short to repay the transforms.</summary>
    internal const int MinChannels = 16;

    /// <summary>
    /// Whether <paramref name="g"/> is a float32 3x3, stride-1, padding-1 convolution with enough channels, and a batch
    /// whose images fill rows of whole register tiles (<see cref="GroupImages(in ConvGeometry, int)"/>): a 7x7 image alone would leave three
    /// quarters of a vector of tiles empty, and the flat kernel is then faster (batch 1 to 8 measured 0.3-0.6x).
    /// </summary>
    public static bool Applies<T>(in ConvGeometry g) =>
        typeof(T) == typeof(float) && SimdWidth.Current >= 128 && g.Groups == 1 && g.KernelH == 3 && g.KernelW == 3 &&
        g.UnitStride && g.DilationH == 1 && g.DilationW == 1 && g.PadH == 1 && g.PadW == 1 &&
        g.InChannels >= MinChannels && g.OutChannels >= MinChannels && GroupImages(g, SimdWidth.Current / 32) > 0;

    /// <summary>
    /// Tiles per image in a row of the side-by-side layout (<see cref="WinogradConv{TV,S}"/>): a zero column, the
    /// image's columns and zeros make 2 * slot columns.
    /// </summary>
    internal static int Slot(in ConvGeometry g) => (g.InW + 2) / 2;

    /// <summary>
    /// The fewest images (at most the batch, and 64) whose tiles side by side fill whole three-vector register tiles with
    /// at most 15 % of the lanes empty, or 0 when no such group exists.
    /// </summary>
    internal static int GroupImages(in ConvGeometry g, int lanes) => GroupImages(g.Batch, Slot(g), lanes);

    /// <summary><see cref="GroupImages(in ConvGeometry, int)"/> for images of <paramref name="slot"/> tiles each.</summary>
    internal static int GroupImages(int batch, int slot, int lanes)
    {
        for (int n = 1; n <= Math.Min(batch, 64); n++)
            if (RowTiles(n, slot, lanes) * 20L <= n * slot * 23L) return n;
        return 0;
    }

    /// <summary>
    /// Ranges of bands per group, each a unit of a forward pass's work: whole groups (one range) when there are at least
    /// two per thread and they share out evenly or are many; else two ranges (11 whole groups on two threads ran 6 against
    /// 5, a unit's time idle at the end: the cnn's 28x28 layer 2.37 -> 2.31 ms at batch 64); one band each when there are
    /// fewer than two groups per thread. A range lays out its two border rows again, so finer units cost a little more.
    /// </summary>
    internal static int BandRanges(int groups, int bands)
    {
        int threads = WorkerPool.Threads;
        if (groups < 2 * threads) return bands;
        return groups % threads == 0 || groups >= 8 * threads ? 1 : Math.Min(2, bands);
    }

    /// <summary>Tiles in a row of <paramref name="images"/> images side by side, rounded up to whole three-vector register tiles.</summary>
    internal static int RowTiles(int images, int slot, int lanes) => ConvGeometry.CeilDiv(images * slot, 3 * lanes) * 3 * lanes;

    /// <summary>y = conv(x, w) + bias, through ReLU when <paramref name="relu"/>; NCHW x and y, w [O, C, 3, 3], bias may be null.</summary>
    public static void Forward(float* x, float* w, float* bias, float* y, ConvGeometry g, bool relu = false)
    {
        if (g.Batch == 0) return;
        if (!Applies<float>(g)) throw new ArgumentException("WinogradConv: a 3x3, stride-1, padding-1 float32 convolution of 16 or more channels each way, and a batch that fills rows of tiles");
        if (Winograd4x4.Applies(g)) // fewer products per output where the images are large enough and the batch fills its wider rows
        {
            Winograd4x4.Forward(x, w, bias, y, g, relu);
            return;
        }
        int one = WinogradWeights.SetStride(g.OutChannels, g.InChannels);
        var packed = ArrayPool<float>.Shared.Rent(16 * one);
        try
        {
            fixed (float* u = packed)
            {
                WinogradWeights.Transform<Weights>(w, u, g.OutChannels, g.InChannels, one);
                switch (SimdWidth.Current)
                {
                    case 512: WinogradConv<Vector512<float>, Simd512<float>>.Forward(x, u, one, bias, y, g, relu); break;
                    case 256: WinogradConv<Vector256<float>, Simd256<float>>.Forward(x, u, one, bias, y, g, relu); break;
                    default: WinogradConv<Vector128<float>, Simd128<float>>.Forward(x, u, one, bias, y, g, relu); break;
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packed);
        }
    }

    /// <summary>
    /// gw = the gradient of the weights [O, C, 3, 3] (overwritten) from x and gy (NCHW) as <paramref name="parts"/> fixed
    /// partial sums over the batch's tile rows, added in order: the result does not depend on the thread count.
    /// </summary>
    public static void BackwardWeight(float* x, float* gy, float* gw, ConvGeometry g, int parts)
    {
        long plane = (long)g.OutChannels * g.InChannels;
        if (g.Batch == 0)
        {
            new Span<float>(gw, checked((int)(plane * 9))).Clear();
            return;
        }
        if (!Applies<float>(g)) throw new ArgumentException("WinogradConv: a 3x3, stride-1, padding-1 float32 convolution of 16 or more channels each way, and a batch that fills rows of tiles");
        // F(4x4, 3x3) on the larger images it takes, else F(2x2, 3x3): 36 or 16 element-wise sums per channel pair.
        bool four = Winograd4x4.AppliesToWeights(g);
        int lanes = SimdWidth.Current / 32, elements = four ? 36 : 16;
        int slot = four ? Winograd4x4.Slot(g) : Slot(g), tileRows = four ? (g.InH + 3) / 4 : (g.InH + 1) / 2;
        parts = Math.Min(parts, ConvGeometry.CeilDiv(g.Batch, GroupImages(g.Batch, slot, lanes)) * tileRows);
        long size = elements * plane;
        var partials = ArrayPool<float>.Shared.Rent(checked((int)(parts * size)));
        try
        {
            fixed (float* acc = partials)
            {
                switch (SimdWidth.Current, four)
                {
                    case (512, true): Winograd4x4<Vector512<float>, Simd512<float>>.BackwardWeight(x, gy, acc, g, parts); break;
                    case (512, false): WinogradConv<Vector512<float>, Simd512<float>>.BackwardWeight(x, gy, acc, g, parts); break;
                    case (256, true): Winograd4x4<Vector256<float>, Simd256<float>>.BackwardWeight(x, gy, acc, g, parts); break;
                    case (256, false): WinogradConv<Vector256<float>, Simd256<float>>.BackwardWeight(x, gy, acc, g, parts); break;
                    case (_, true): Winograd4x4<Vector128<float>, Simd128<float>>.BackwardWeight(x, gy, acc, g, parts); break;
                    default: WinogradConv<Vector128<float>, Simd128<float>>.BackwardWeight(x, gy, acc, g, parts); break;
                }
                if (four) WinogradWeights.FromSums<Winograd4x4.Weights>(acc, parts, gw, plane);
                else WinogradWeights.FromSums<Weights>(acc, parts, gw, plane);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(partials);
        }
    }

    /// <summary>F(2x2, 3x3)'s weight transforms: G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], whose halves are exact in double.</summary>
    internal readonly struct Weights : IWinogradWeights
    {
        public static int Elements => 16;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Transform(float* k, float* u, long stride)
        {
            // t = G k (4 x 3), a column at a time; then U = t G^T (4 x 4), a row at a time, in locals (registers).
            G(k[0], k[3], k[6], out double a0, out double a1, out double a2, out double a3);
            G(k[1], k[4], k[7], out double b0, out double b1, out double b2, out double b3);
            G(k[2], k[5], k[8], out double c0, out double c1, out double c2, out double c3);
            Row(u, stride, a0, b0, c0);
            Row(u + 4 * stride, stride, a1, b1, c1);
            Row(u + 8 * stride, stride, a2, b2, c2);
            Row(u + 12 * stride, stride, a3, b3, c3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Row(float* u, long stride, double t0, double t1, double t2)
        {
            G(t0, t1, t2, out double e0, out double e1, out double e2, out double e3);
            u[0] = (float)e0; u[stride] = (float)e1; u[2 * stride] = (float)e2; u[3 * stride] = (float)e3;
        }

        /// <summary>G times a column of three: (k0, (k0 + k1 + k2) / 2, (k0 - k1 + k2) / 2, k2).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void G(double k0, double k1, double k2, out double e0, out double e1, out double e2, out double e3)
        {
            e0 = k0;
            e1 = (k0 + k1 + k2) * 0.5;
            e2 = (k0 - k1 + k2) * 0.5;
            e3 = k2;
        }

        public static void FromSums(double* u, float* k)
        {
            // t = G^T dU (3 x 4), a column at a time; then gw = t G (3 x 3), a row at a time.
            GTranspose(u[0], u[4], u[8], u[12], out double a0, out double a1, out double a2);
            GTranspose(u[1], u[5], u[9], u[13], out double b0, out double b1, out double b2);
            GTranspose(u[2], u[6], u[10], u[14], out double c0, out double c1, out double c2);
            GTranspose(u[3], u[7], u[11], u[15], out double d0, out double d1, out double d2);
            KernelRow(k, a0, b0, c0, d0);
            KernelRow(k + 3, a1, b1, c1, d1);
            KernelRow(k + 6, a2, b2, c2, d2);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void KernelRow(float* k, double t0, double t1, double t2, double t3)
        {
            GTranspose(t0, t1, t2, t3, out double e0, out double e1, out double e2);
            k[0] = (float)e0; k[1] = (float)e1; k[2] = (float)e2;
        }

        /// <summary>G^T times a column of four: (u0 + (u1 + u2) / 2, (u1 - u2) / 2, (u1 + u2) / 2 + u3).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void GTranspose(double u0, double u1, double u2, double u3, out double e0, out double e1, out double e2)
        {
            e0 = u0 + (u1 + u2) * 0.5;
            e1 = (u1 - u2) * 0.5;
            e2 = (u1 + u2) * 0.5 + u3;
        }
    }
}

/// <summary>
/// <see cref="WinogradConv"/> at one vector width. Image i's padded rows occupy a slot of 2 * slot columns in every row
/// of a group of images laid side by side (a zero column, the image's columns, zeros), so tile j of a tile row reads
/// input columns 2j to 2j + 3 and covers output columns 2j and 2j + 1 whatever image it belongs to. Rows are stored as
/// their even columns then their odd columns, so the four columns of a vector of tiles are four plain loads (even j,
/// odd j, even j + 1, odd j + 1), and the outputs likewise (the copy back to NCHW interleaves them).
/// </summary>
internal static unsafe class WinogradConv<TV, S> where TV : unmanaged where S : ISimd<TV, float>
{
    [ThreadStatic] private static float[]? t_input, t_v, t_m, t_output, t_line;
    [ThreadStatic] private static int[]? t_offsets;

    public static void Forward(float* x, float* u, int uStride, float* bias, float* y, in ConvGeometry g, bool relu)
    {
        var job = new Job(x, u, uStride, bias, y, g, relu);
        if (job.Units == 1) job.Run(0);
        else WorkerPool.For(job.Units, job);
    }

    /// <summary>
    /// The 16 element-wise weight gradients dU = sum over tiles of (A gy A^T) . (B^T d B), as <paramref name="parts"/>
    /// partial sums [part][16][O][C] over fixed ranges of tile rows (the result does not depend on the thread count).
    /// </summary>
    public static void BackwardWeight(float* x, float* gy, float* partials, in ConvGeometry g, int parts)
    {
        var job = new WeightJob(x, gy, partials, g, parts);
        if (parts == 1) job.Run(0);
        else WorkerPool.For(parts, job);
    }

    /// <summary>
    /// An image's row into a padded line of a group's images in whole vectors: lanes past <paramref name="count"/> are
    /// stored as zeros, which is what the padding there must hold, or are overwritten by the next image (lines have a
    /// vector of slack). An image's row is shorter than a vector, so rows are laid out through such a line.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void IntoLine(float* from, float* to, int count)
    {
        for (int k = 0; k < count; k += S.Count)
            S.Store(count - k >= S.Count ? S.Load(from + k) : S.LoadFirst(from + k, count - k), to + k);
    }

    /// <summary>An image's row out of a line: whole vectors read, nothing written past <paramref name="count"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void FromLine(float* from, float* to, int count)
    {
        for (int k = 0; k < count; k += S.Count)
            if (count - k >= S.Count) S.Store(S.Load(from + k), to + k);
            else S.StoreFirst(S.Load(from + k), to + k, count - k);
    }

    /// <summary>The side-by-side layout of a convolution's input: groups of images, their tile rows, and the input transform.</summary>
    private abstract class Tiling
    {
        protected readonly float* _x;
        protected readonly ConvGeometry _g;
        protected readonly int _tileRows;  // tile rows of an image: ceil(H / 2)
        protected readonly int _slot;      // tiles per image in a row: its 2 * _slot columns hold a zero column, W columns and zeros
        protected readonly int _images;    // images side by side in a group
        protected readonly int _rowTiles;  // tiles per row: _images * _slot rounded up to whole register tiles
        protected readonly int _half;      // floats of one parity of a padded input row: _rowTiles and the slack a vector of tiles reads past it
        protected readonly int _groups;

        protected Tiling(float* x, in ConvGeometry g)
        {
            _x = x;
            _g = g;
            int lanes = S.Count;
            _tileRows = (g.InH + 1) / 2;
            _slot = WinogradConv.Slot(g);
            // Rows of whole three-vector register tiles of the products, from the fewest images that fill them (shorter rows
            // leave room in L2 for taller bands).
            _images = WinogradConv.GroupImages(g, lanes);
            if (_images == 0) throw new ArgumentException("WinogradConv: the batch does not fill a row of register tiles");
            _rowTiles = WinogradConv.RowTiles(_images, _slot, lanes);
            _half = _rowTiles + lanes;
            _groups = (g.Batch + _images - 1) / _images;
        }

        /// <summary>Input floats per padded row (evens then odds).</summary>
        protected long InputRow => 2L * _half;

        /// <summary>Input floats per channel for <paramref name="rows"/> tile rows: their 2 rows + 2 padded rows.</summary>
        protected long InputChannel(int rows) => (2L * rows + 2) * InputRow;

        /// <summary>Floats of a padded line of a group's images: two per tile and the slack whole-vector copies write past.</summary>
        protected long LineLength => 2L * (_rowTiles + S.Count);

        /// <summary>Padded input rows 2 t0 to 2 (t0 + rows) + 1 of the group's images side by side, zeros around, every channel, each row as its even then its odd columns.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        protected void FillInput(float* input, long channel, int n0, int images, int t0, int rows)
        {
            int h = _g.InH, w = _g.InW, c = _g.InChannels, width = 2 * _slot;
            fixed (float* line = DirectConv.Scratch(ref t_line, LineLength))
            {
                new Span<float>(line, (int)LineLength).Clear();
                for (int ci = 0; ci < c; ci++)
                {
                    float* plane = input + ci * channel;
                    // Every float is written: rows outside the image as zeros, the others by Split (slack included).
                    for (int r = 0; r < 2 * rows + 2; r++)
                    {
                        int iy = 2 * t0 + r - 1; // the padded row's input row
                        if ((uint)iy >= (uint)h)
                        {
                            new Span<float>(plane + (long)r * 2 * _half, (int)(2 * _half)).Clear();
                            continue;
                        }
                        // Input column k is padded column k + 1 of the image's slot; the rest of the line is zero.
                        for (int i = 0; i < images; i++)
                            IntoLine(_x + (((long)(n0 + i) * c + ci) * h + iy) * w, line + i * width + 1, w);
                        Split(line, plane + (long)r * 2 * _half, _half);
                    }
                }
            }
        }

        /// <summary>
        /// A line's even columns to <paramref name="evens"/>, its odd ones <paramref name="odds"/> floats on, and zeros
        /// from the end of each up to <paramref name="odds"/> (the slack a vector of tiles reads past the last tile).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        protected void Split(float* line, float* evens, int odds)
        {
            int lanes = S.Count;
            for (int j = 0; j < _rowTiles; j += lanes)
            {
                float* from = line + 2 * j;
                S.Store(S.Evens(S.Load(from), S.Load(from + lanes)), evens + j);
                S.Store(S.Evens(S.Load(from + 1), S.Load(from + 1 + lanes)), evens + odds + j);
            }
            for (int j = _rowTiles; j < odds; j++) evens[j] = evens[odds + j] = 0;
        }

        /// <summary>V = B^T d B for every tile of one channel: v + xi * pitch + tile holds element xi of the 4x4 result.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        protected void TransformInput(float* input, float* v, long pitch, int rows)
        {
            int lanes = S.Count;
            long row = InputRow;
            for (int t = 0; t < rows; t++)
                for (int j = 0; j < _rowTiles; j += lanes)
                {
                    float* p = input + 2 * t * row + j;
                    // Each row of the 4x4 tiles times B (columns 0 - 2, 1 + 2, 2 - 1, 1 - 3), then B^T over the rows.
                    Columns(p, out TV a0, out TV a1, out TV a2, out TV a3);
                    Columns(p + row, out TV b0, out TV b1, out TV b2, out TV b3);
                    Columns(p + 2 * row, out TV c0, out TV c1, out TV c2, out TV c3);
                    Columns(p + 3 * row, out TV d0, out TV d1, out TV d2, out TV d3);
                    float* at = v + (long)t * _rowTiles + j;
                    Store4(at, pitch, S.Sub(a0, c0), S.Sub(a1, c1), S.Sub(a2, c2), S.Sub(a3, c3));
                    Store4(at + 4 * pitch, pitch, S.Add(b0, c0), S.Add(b1, c1), S.Add(b2, c2), S.Add(b3, c3));
                    Store4(at + 8 * pitch, pitch, S.Sub(c0, b0), S.Sub(c1, b1), S.Sub(c2, b2), S.Sub(c3, b3));
                    Store4(at + 12 * pitch, pitch, S.Sub(b0, d0), S.Sub(b1, d1), S.Sub(b2, d2), S.Sub(b3, d3));
                }
        }

        /// <summary>One input row of a vector of tiles (evens at p, odds at p + _half) times B.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Columns(float* p, out TV e0, out TV e1, out TV e2, out TV e3)
        {
            TV x0 = S.Load(p), x1 = S.Load(p + _half), x2 = S.Load(p + 1), x3 = S.Load(p + _half + 1);
            e0 = S.Sub(x0, x2);
            e1 = S.Add(x1, x2);
            e2 = S.Sub(x2, x1);
            e3 = S.Sub(x1, x3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        protected static void Store4(float* at, long pitch, TV e0, TV e1, TV e2, TV e3)
        {
            S.Store(e0, at);
            S.Store(e1, at + pitch);
            S.Store(e2, at + 2 * pitch);
            S.Store(e3, at + 3 * pitch);
        }
    }

    /// <summary>
    /// The forward pass. A unit of work is a group of images, all its bands of tile rows in turn (its input laid out
    /// once), or one band of one group when there are too few groups for the pool. The band's transformed inputs
    /// (16 x C per tile) and products (16 x O) fit in half of L2.
    /// </summary>
    private sealed class Job : Tiling, IParallelTask
    {
        private readonly float* _u, _bias, _y;
        private readonly int _uStride;
        private readonly bool _relu;
        private readonly int _bandRows, _bands;
        private readonly int _ranges; // ranges of bands per group, each a unit of work

        public Job(float* x, float* u, int uStride, float* bias, float* y, in ConvGeometry g, bool relu) : base(x, g)
        {
            _u = u; _bias = bias; _y = y;
            (_uStride, _relu) = (uStride, relu);
            long perTileRow = 16L * (g.InChannels + g.OutChannels) * _rowTiles;
            long budget = Math.Max(CpuInfo.L2Bytes / 2, 256 * 1024) / sizeof(float);
            _bandRows = (int)Math.Clamp(budget / perTileRow, 1, _tileRows);
            _bands = (_tileRows + _bandRows - 1) / _bandRows;
            _ranges = WinogradConv.BandRanges(_groups, _bands);
        }

        public int Units => _groups * _ranges;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int unit)
        {
            // A unit is a group's every band when there are groups enough for the pool (its input laid out once), else one band.
            int group = unit / _ranges, range = unit % _ranges;
            int first = range * _bands / _ranges, end = (range + 1) * _bands / _ranges;
            int n0 = group * _images, images = Math.Min(_images, _g.Batch - n0);
            int f0 = first * _bandRows, filled = Math.Min(end * _bandRows, _tileRows) - f0; // the tile rows whose input is laid out
            int c = _g.InChannels, o = _g.OutChannels;
            long row = InputRow, channel = InputChannel(filled);
            int most = _bandRows * _rowTiles;                          // tiles per channel in a band
            // One cache line between the 16 planes of V and of M beyond their channels: at a multiple of 4 KiB apart, the 16
            // vectors a transform stores or loads fall in one L1 set and evict each other.
            long vPlane = (long)c * most + 16, mPlane = (long)o * most + 16;
            long outChannel = 2L * _bandRows * 2 * _rowTiles; // output rows, each evens then odds
            t_offsets ??= new int[c];
            if (t_offsets.Length < c) t_offsets = new int[c];
            fixed (float* input = DirectConv.Scratch(ref t_input, c * channel),
                   v = DirectConv.Scratch(ref t_v, 16 * vPlane),
                   m = DirectConv.Scratch(ref t_m, 16 * mPlane),
                   output = DirectConv.Scratch(ref t_output, o * outChannel))
            fixed (int* offsets = t_offsets)
            {
                FillInput(input, channel, n0, images, f0, filled);
                for (int band = first; band < end; band++)
                {
                    int t0 = band * _bandRows, rows = Math.Min(_bandRows, _tileRows - t0), positions = rows * _rowTiles;
                    for (int ci = 0; ci < c; ci++)
                        TransformInput(input + ci * channel + 2 * (t0 - f0) * row, v + (long)ci * positions, vPlane, rows);
                    for (int ci = 0; ci < c; ci++) offsets[ci] = ci * positions;
                    for (int xi = 0; xi < 16; xi++)
                        FlatConv<TV, S>.Products(v + xi * vPlane, offsets, _u + (long)xi * _uStride, c, null, m + xi * mPlane, positions, positions, 0, o);
                    for (int oi = 0; oi < o; oi++)
                    {
                        TransformOutput(m + (long)oi * positions, mPlane, output + oi * outChannel, rows, _bias is null ? 0 : _bias[oi]);
                        Extract(output + oi * outChannel, oi, n0, images, t0, rows);
                    }
                }
            }
        }

        /// <summary>
        /// Y = A^T M A + bias (through ReLU when asked) for every tile of one output channel, M's element xi at
        /// m + xi * pitch: output rows 2t and 2t + 1 of the band, each as its even columns (2j) then its odd ones.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void TransformOutput(float* m, long pitch, float* output, int rows, float bias)
        {
            int lanes = S.Count, row = 2 * _rowTiles;
            TV b = S.Splat(bias);
            for (int t = 0; t < rows; t++)
                for (int j = 0; j < _rowTiles; j += lanes)
                {
                    float* at = m + (long)t * _rowTiles + j;
                    // Rows of M times A^T (0 + 1 + 2, 1 - 2 - 3) for each column, then the columns likewise.
                    Rows(at, pitch, 0, out TV r00, out TV r10);
                    Rows(at, pitch, 1, out TV r01, out TV r11);
                    Rows(at, pitch, 2, out TV r02, out TV r12);
                    Rows(at, pitch, 3, out TV r03, out TV r13);
                    TV y00 = S.Add(S.Add(S.Add(r00, r01), r02), b), y01 = S.Add(S.Sub(S.Sub(r01, r02), r03), b);
                    TV y10 = S.Add(S.Add(S.Add(r10, r11), r12), b), y11 = S.Add(S.Sub(S.Sub(r11, r12), r13), b);
                    if (_relu)
                    {
                        TV zero = S.Zero;
                        y00 = S.Max(y00, zero); y01 = S.Max(y01, zero); y10 = S.Max(y10, zero); y11 = S.Max(y11, zero);
                    }
                    float* top = output + (long)2 * t * row + j, bottom = top + row;
                    S.Store(y00, top);
                    S.Store(y01, top + _rowTiles);
                    S.Store(y10, bottom);
                    S.Store(y11, bottom + _rowTiles);
                }
        }

        /// <summary>Column <paramref name="column"/> of M's rows times A^T: (m0 + m1 + m2, m1 - m2 - m3).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Rows(float* at, long pitch, int column, out TV top, out TV bottom)
        {
            TV m0 = S.Load(at + column * pitch), m1 = S.Load(at + (4 + column) * pitch);
            TV m2 = S.Load(at + (8 + column) * pitch), m3 = S.Load(at + (12 + column) * pitch);
            top = S.Add(S.Add(m0, m1), m2);
            bottom = S.Sub(S.Sub(m1, m2), m3);
        }

        /// <summary>
        /// The band's output rows of one channel back to NCHW y: a row's even and odd columns are interleaved into one
        /// line, a vector of tiles at a time, from which each image's columns are copied.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Extract(float* output, int oi, int n0, int images, int t0, int rows)
        {
            int h = _g.OutH, w = _g.OutW, lanes = S.Count, row = 2 * _rowTiles, width = 2 * _slot;
            int used = ConvGeometry.CeilDiv(images * _slot, lanes) * lanes; // tiles holding this group's images
            fixed (float* line = DirectConv.Scratch(ref t_line, LineLength))
                for (int r = 0; r < 2 * rows; r++)
                {
                    int oy = 2 * t0 + r;
                    if (oy >= h) break;
                    float* evens = output + (long)r * row, odds = evens + _rowTiles;
                    for (int k = 0; k < used; k += lanes)
                    {
                        TV e = S.Load(evens + k), d = S.Load(odds + k);
                        S.Store(S.ZipLow(e, d), line + 2 * k);
                        S.Store(S.ZipHigh(e, d), line + 2 * k + lanes);
                    }
                    for (int i = 0; i < images; i++)
                        FromLine(line + i * width, _y + (((long)(n0 + i) * _g.OutChannels + oi) * h + oy) * w, w);
                }
        }
    }

    /// <summary>
    /// The weight gradient's 16 element-wise sums dU[o, c] = sum over tiles of dM[o, tile] V[c, tile], where V = B^T d B
    /// (as in the forward pass) and dM = A gy A^T. Part p takes a fixed range of all the batch's tile rows (group by
    /// group) in chunks (<see cref="WeightPart"/>).
    /// </summary>
    private sealed class WeightJob : Tiling, IParallelTask, IWeightTiles
    {
        private readonly float* _gy, _partials;
        private readonly int _parts, _chunkRows;

        public WeightJob(float* x, float* gy, float* partials, in ConvGeometry g, int parts) : base(x, g)
        {
            _gy = gy;
            _partials = partials;
            _parts = parts;
            _chunkRows = WeightChunkRows(g, _rowTiles, _groups * _tileRows);
        }

        public void Run(int part) => WeightPart(this, _g, _partials, part, _parts);

        public int Elements => 16;
        public int TileRows => _tileRows;
        public int RowTiles => _rowTiles;
        public int Images => _images;
        public int Groups => _groups;
        public int ChunkRows => _chunkRows;
        public long GradientChannel(int rows) => 2L * rows * 2 * _rowTiles;
        long IWeightTiles.InputChannel(int rows) => InputChannel(rows);

        public void Transform(int n0, int images, int t0, int rows, float* input, long channel, float* grad, long gradChannel,
            float* v, long vPitch, float* m, long mPitch, int positions)
        {
            FillInput(input, channel, n0, images, t0, rows);
            for (int ci = 0; ci < _g.InChannels; ci++)
                TransformInput(input + ci * channel, v + ci * (long)positions, vPitch, rows);
            FillGradient(grad, gradChannel, n0, images, t0, rows);
            for (int oi = 0; oi < _g.OutChannels; oi++)
                TransformGradient(grad + oi * gradChannel, m + oi * (long)positions, mPitch, rows);
        }

        /// <summary>Output gradient rows 2 t0 to 2 (t0 + rows) - 1 of the group's images side by side, each as its even then its odd columns; zeros where no output is.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void FillGradient(float* grad, long channel, int n0, int images, int t0, int rows)
        {
            int h = _g.OutH, w = _g.OutW, o = _g.OutChannels, row = 2 * _rowTiles, width = 2 * _slot;
            fixed (float* line = DirectConv.Scratch(ref t_line, LineLength))
            {
                new Span<float>(line, (int)LineLength).Clear();
                for (int oi = 0; oi < o; oi++)
                {
                    float* plane = grad + oi * channel;
                    for (int r = 0; r < 2 * rows; r++)
                    {
                        int oy = 2 * t0 + r;
                        if (oy >= h) // the rest of the band is below the images: zeros
                        {
                            new Span<float>(plane + (long)r * row, (int)(channel - (long)r * row)).Clear();
                            break;
                        }
                        // Output column k of an image is column k of its slot; the columns past the image stay zero.
                        for (int i = 0; i < images; i++)
                            IntoLine(_gy + (((long)(n0 + i) * o + oi) * h + oy) * w, line + i * width, w);
                        Split(line, plane + (long)r * row, _rowTiles);
                    }
                }
            }
        }

        /// <summary>
        /// dM = A gy A^T for every tile of one output channel (the forward pass's output transform transposed): each row
        /// (e, d) of a 2x2 gradient tile becomes (e, e + d, e - d, -d), and the two rows likewise.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void TransformGradient(float* grad, float* m, long pitch, int rows)
        {
            int lanes = S.Count, row = 2 * _rowTiles;
            for (int t = 0; t < rows; t++)
                for (int j = 0; j < _rowTiles; j += lanes)
                {
                    float* p = grad + (long)2 * t * row + j;
                    TV e0 = S.Load(p), d0 = S.Load(p + _rowTiles), e1 = S.Load(p + row), d1 = S.Load(p + row + _rowTiles);
                    TV a0 = e0, a1 = S.Add(e0, d0), a2 = S.Sub(e0, d0), a3 = S.Neg(d0);
                    TV b0 = e1, b1 = S.Add(e1, d1), b2 = S.Sub(e1, d1), b3 = S.Neg(d1);
                    float* at = m + (long)t * _rowTiles + j;
                    Store4(at, pitch, a0, a1, a2, a3);
                    Store4(at + 4 * pitch, pitch, S.Add(a0, b0), S.Add(a1, b1), S.Add(a2, b2), S.Add(a3, b3));
                    Store4(at + 8 * pitch, pitch, S.Sub(a0, b0), S.Sub(a1, b1), S.Sub(a2, b2), S.Sub(a3, b3));
                    Store4(at + 12 * pitch, pitch, S.Neg(b0), S.Neg(b1), S.Neg(b2), S.Neg(b3));
                }
        }
    }

    /// <summary>What the weight gradient's loop over chunks (<see cref="WeightPart"/>) needs from a tile size's layout.</summary>
    internal interface IWeightTiles
    {
        /// <summary>Elements of a transformed tile: 16 or 36.</summary>
        int Elements { get; }
        int TileRows { get; }
        int RowTiles { get; }
        int Images { get; }
        int Groups { get; }
        int ChunkRows { get; }
        long InputChannel(int rows);
        long GradientChannel(int rows);

        /// <summary>
        /// Lays out tile rows t0 to t0 + rows of the group of images from n0 and stores their transformed inputs (channel
        /// ci's element xi at v + xi * vPitch + ci * positions) and output gradients (likewise at m).
        /// </summary>
        void Transform(int n0, int images, int t0, int rows, float* input, long channel, float* grad, long gradChannel,
            float* v, long vPitch, float* m, long mPitch, int positions);
    }

    private const int MinChunkTiles = 1024;

    /// <summary>
    /// Tile rows per chunk of the weight gradient: the V and dM planes of one element fit in half of L2, and hold at
    /// least <see cref="MinChunkTiles"/> tiles so that the lanes' sums at the end of each chunk stay a small cost.
    /// </summary>
    internal static int WeightChunkRows(in ConvGeometry g, int rowTiles, int allRows)
    {
        long perRow = (long)(g.InChannels + g.OutChannels) * rowTiles;
        long fits = CpuInfo.L2Bytes / 2 / sizeof(float) / perRow, least = ConvGeometry.CeilDiv(MinChunkTiles, rowTiles);
        return (int)Math.Clamp(Math.Max(fits, least), 1, allRows);
    }

    /// <summary>
    /// Part <paramref name="part"/> of <paramref name="parts"/> of the weight gradient's element-wise sums into
    /// partials [part][elements][O][C]: a fixed range of the batch's tile rows (group by group), chunk by chunk, each
    /// chunk's tile rows transformed one group's run at a time into consecutive tiles, then the sums of products.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void WeightPart(IWeightTiles tiles, in ConvGeometry g, float* partials, int part, int parts)
    {
        int c = g.InChannels, o = g.OutChannels, elements = tiles.Elements, tileRows = tiles.TileRows, rowTiles = tiles.RowTiles;
        int chunkRows = tiles.ChunkRows, images = tiles.Images;
        float* acc = partials + part * (long)elements * o * c;
        new Span<float>(acc, elements * o * c).Clear();
        int all = tiles.Groups * tileRows, begin = (int)((long)part * all / parts), end = (int)((long)(part + 1) * all / parts);
        int most = chunkRows * rowTiles, segment = Math.Min(chunkRows, tileRows); // tiles per chunk, tile rows per group's run
        long vPlane = (long)c * most + 16, mPlane = (long)o * most + 16; // a cache line beyond 4 KiB multiples, as in the forward pass
        long channel = tiles.InputChannel(segment), gradChannel = tiles.GradientChannel(segment);
        fixed (float* input = DirectConv.Scratch(ref t_input, c * channel),
               v = DirectConv.Scratch(ref t_v, elements * vPlane),
               m = DirectConv.Scratch(ref t_m, elements * mPlane),
               grad = DirectConv.Scratch(ref t_output, o * gradChannel))
        {
            for (int r0 = begin; r0 < end; r0 += chunkRows)
            {
                int rows = Math.Min(chunkRows, end - r0), positions = rows * rowTiles;
                for (int r = r0; r < r0 + rows;)
                {
                    int group = r / tileRows, t0 = r % tileRows, n = Math.Min(tileRows - t0, r0 + rows - r);
                    int n0 = group * images;
                    long at = (long)(r - r0) * rowTiles;
                    tiles.Transform(n0, Math.Min(images, g.Batch - n0), t0, n, input, channel, grad, gradChannel, v + at, vPlane, m + at, mPlane, positions);
                    r += n;
                }
                for (int xi = 0; xi < elements; xi++)
                    Dots(m + xi * mPlane, v + xi * vPlane, positions, o, c, acc + xi * (long)o * c);
            }
        }
    }

    /// <summary>acc[o, c] += dot(dm[o], v[c]) over <paramref name="positions"/> (whole vectors) for every pair of channels, in register blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Dots(float* dm, float* v, int positions, int o, int c, float* acc)
    {
        int c0 = 0;
        if (SimdWidth.VectorRegisters >= 32)
        {
            // Blocks of six input channels, and of four for a remainder of four (or of two: 8 = 4 + 4).
            int sixes = c / 6, fours = c % 6 == 4 ? 1 : c % 6 == 2 && sixes > 0 ? 2 : 0;
            if (fours == 2) sixes--;
            for (; c0 < 6 * sixes; c0 += 6)
                for (int o0 = 0; o0 < o; o0 += 4)
                    Dot4x6(dm, v, positions, o0, Math.Min(4, o - o0), c0, c, acc);
            for (int f = 0; f < fours; f++, c0 += 4)
                for (int o0 = 0; o0 < o; o0 += 4)
                    Dot4x4(dm, v, positions, o0, Math.Min(4, o - o0), c0, c, acc);
        }
        for (; c0 < c; c0 += 3)
            for (int o0 = 0; o0 < o; o0 += 4)
                Dot4x3(dm, v, positions, o0, Math.Min(4, o - o0), c0, Math.Min(3, c - c0), c, acc);
    }

    /// <summary>
    /// Four output channels by six input channels: 24 accumulators, ten loads per 24 FMAs (CPUs with 32 vector
    /// registers). Missing rows of an edge block repeat the block's first and are not accumulated.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4x6(float* dm, float* v, int positions, int o0, int rows, int c0, int c, float* acc)
    {
        float* g0 = dm + (long)o0 * positions;
        float* g1 = rows > 1 ? g0 + positions : g0, g2 = rows > 2 ? g0 + 2L * positions : g0, g3 = rows > 3 ? g0 + 3L * positions : g0;
        float* x0 = v + (long)c0 * positions;
        TV a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero, a4 = S.Zero, a5 = S.Zero;
        TV b0 = S.Zero, b1 = S.Zero, b2 = S.Zero, b3 = S.Zero, b4 = S.Zero, b5 = S.Zero;
        TV d0 = S.Zero, d1 = S.Zero, d2 = S.Zero, d3 = S.Zero, d4 = S.Zero, d5 = S.Zero;
        TV e0 = S.Zero, e1 = S.Zero, e2 = S.Zero, e3 = S.Zero, e4 = S.Zero, e5 = S.Zero;
        for (int q = 0; q < positions; q += S.Count)
        {
            TV k0 = S.Load(g0 + q), k1 = S.Load(g1 + q), k2 = S.Load(g2 + q), k3 = S.Load(g3 + q);
            float* xq = x0 + q;
            TV u = S.Load(xq); a0 = S.Fma(k0, u, a0); b0 = S.Fma(k1, u, b0); d0 = S.Fma(k2, u, d0); e0 = S.Fma(k3, u, e0);
            u = S.Load(xq + positions); a1 = S.Fma(k0, u, a1); b1 = S.Fma(k1, u, b1); d1 = S.Fma(k2, u, d1); e1 = S.Fma(k3, u, e1);
            u = S.Load(xq + 2L * positions); a2 = S.Fma(k0, u, a2); b2 = S.Fma(k1, u, b2); d2 = S.Fma(k2, u, d2); e2 = S.Fma(k3, u, e2);
            u = S.Load(xq + 3L * positions); a3 = S.Fma(k0, u, a3); b3 = S.Fma(k1, u, b3); d3 = S.Fma(k2, u, d3); e3 = S.Fma(k3, u, e3);
            u = S.Load(xq + 4L * positions); a4 = S.Fma(k0, u, a4); b4 = S.Fma(k1, u, b4); d4 = S.Fma(k2, u, d4); e4 = S.Fma(k3, u, e4);
            u = S.Load(xq + 5L * positions); a5 = S.Fma(k0, u, a5); b5 = S.Fma(k1, u, b5); d5 = S.Fma(k2, u, d5); e5 = S.Fma(k3, u, e5);
        }
        float* slot = acc + (long)o0 * c + c0;
        AddSix(slot, a0, a1, a2, a3, a4, a5);
        if (rows > 1) AddSix(slot + c, b0, b1, b2, b3, b4, b5);
        if (rows > 2) AddSix(slot + 2L * c, d0, d1, d2, d3, d4, d5);
        if (rows > 3) AddSix(slot + 3L * c, e0, e1, e2, e3, e4, e5);
    }

    /// <summary>Four output channels by four input channels: 16 accumulators, eight loads per 16 FMAs (32 vector registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4x4(float* dm, float* v, int positions, int o0, int rows, int c0, int c, float* acc)
    {
        float* g0 = dm + (long)o0 * positions;
        float* g1 = rows > 1 ? g0 + positions : g0, g2 = rows > 2 ? g0 + 2L * positions : g0, g3 = rows > 3 ? g0 + 3L * positions : g0;
        float* x0 = v + (long)c0 * positions;
        TV a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero, b0 = S.Zero, b1 = S.Zero, b2 = S.Zero, b3 = S.Zero;
        TV d0 = S.Zero, d1 = S.Zero, d2 = S.Zero, d3 = S.Zero, e0 = S.Zero, e1 = S.Zero, e2 = S.Zero, e3 = S.Zero;
        for (int q = 0; q < positions; q += S.Count)
        {
            TV k0 = S.Load(g0 + q), k1 = S.Load(g1 + q), k2 = S.Load(g2 + q), k3 = S.Load(g3 + q);
            float* xq = x0 + q;
            TV u = S.Load(xq); a0 = S.Fma(k0, u, a0); b0 = S.Fma(k1, u, b0); d0 = S.Fma(k2, u, d0); e0 = S.Fma(k3, u, e0);
            u = S.Load(xq + positions); a1 = S.Fma(k0, u, a1); b1 = S.Fma(k1, u, b1); d1 = S.Fma(k2, u, d1); e1 = S.Fma(k3, u, e1);
            u = S.Load(xq + 2L * positions); a2 = S.Fma(k0, u, a2); b2 = S.Fma(k1, u, b2); d2 = S.Fma(k2, u, d2); e2 = S.Fma(k3, u, e2);
            u = S.Load(xq + 3L * positions); a3 = S.Fma(k0, u, a3); b3 = S.Fma(k1, u, b3); d3 = S.Fma(k2, u, d3); e3 = S.Fma(k3, u, e3);
        }
        float* slot = acc + (long)o0 * c + c0;
        AddFour(slot, a0, a1, a2, a3);
        if (rows > 1) AddFour(slot + c, b0, b1, b2, b3);
        if (rows > 2) AddFour(slot + 2L * c, d0, d1, d2, d3);
        if (rows > 3) AddFour(slot + 3L * c, e0, e1, e2, e3);
    }

    /// <summary>Four output channels by up to three input channels: 12 accumulators (16 vector registers); missing columns repeat the first and are not accumulated.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4x3(float* dm, float* v, int positions, int o0, int rows, int c0, int cols, int c, float* acc)
    {
        float* g0 = dm + (long)o0 * positions;
        float* g1 = rows > 1 ? g0 + positions : g0, g2 = rows > 2 ? g0 + 2L * positions : g0, g3 = rows > 3 ? g0 + 3L * positions : g0;
        float* x0 = v + (long)c0 * positions;
        float* x1 = cols > 1 ? x0 + positions : x0, x2 = cols > 2 ? x0 + 2L * positions : x0;
        TV a0 = S.Zero, a1 = S.Zero, a2 = S.Zero, a3 = S.Zero;
        TV e0 = S.Zero, e1 = S.Zero, e2 = S.Zero, e3 = S.Zero;
        TV f0 = S.Zero, f1 = S.Zero, f2 = S.Zero, f3 = S.Zero;
        for (int q = 0; q < positions; q += S.Count)
        {
            TV u = S.Load(x0 + q), w = S.Load(x1 + q), z = S.Load(x2 + q);
            TV k = S.Load(g0 + q);
            a0 = S.Fma(k, u, a0); e0 = S.Fma(k, w, e0); f0 = S.Fma(k, z, f0);
            k = S.Load(g1 + q);
            a1 = S.Fma(k, u, a1); e1 = S.Fma(k, w, e1); f1 = S.Fma(k, z, f1);
            k = S.Load(g2 + q);
            a2 = S.Fma(k, u, a2); e2 = S.Fma(k, w, e2); f2 = S.Fma(k, z, f2);
            k = S.Load(g3 + q);
            a3 = S.Fma(k, u, a3); e3 = S.Fma(k, w, e3); f3 = S.Fma(k, z, f3);
        }
        float* slot = acc + (long)o0 * c + c0;
        AddThree(slot, cols, a0, e0, f0);
        if (rows > 1) AddThree(slot + c, cols, a1, e1, f1);
        if (rows > 2) AddThree(slot + 2L * c, cols, a2, e2, f2);
        if (rows > 3) AddThree(slot + 3L * c, cols, a3, e3, f3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddSix(float* slot, TV t0, TV t1, TV t2, TV t3, TV t4, TV t5)
    {
        slot[0] += S.Sum(t0); slot[1] += S.Sum(t1); slot[2] += S.Sum(t2);
        slot[3] += S.Sum(t3); slot[4] += S.Sum(t4); slot[5] += S.Sum(t5);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddFour(float* slot, TV t0, TV t1, TV t2, TV t3)
    {
        slot[0] += S.Sum(t0); slot[1] += S.Sum(t1); slot[2] += S.Sum(t2); slot[3] += S.Sum(t3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddThree(float* slot, int cols, TV a, TV e, TV f)
    {
        slot[0] += S.Sum(a);
        if (cols > 1) slot[1] += S.Sum(e);
        if (cols > 2) slot[2] += S.Sum(f);
    }
}
