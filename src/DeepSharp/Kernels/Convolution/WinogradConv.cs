using System.Buffers;
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
/// halves are exact, so the transforms are additions, a vector of tiles at a time. The weight gradient stays with
/// <see cref="FlatConv"/>.
/// </summary>
internal static unsafe class WinogradConv
{
    /// <summary>Fewer channels leave the products too short to repay the transforms.</summary>
    internal const int MinChannels = 16;

    /// <summary>
    /// Whether <paramref name="g"/> is a float32 3x3, stride-1, padding-1 convolution with enough channels, and a batch
    /// whose images fill rows of whole register tiles (<see cref="GroupImages"/>): a 7x7 image alone would leave three
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
    internal static int GroupImages(in ConvGeometry g, int lanes)
    {
        int slot = Slot(g);
        for (int n = 1; n <= Math.Min(g.Batch, 64); n++)
            if (RowTiles(n, slot, lanes) * 20L <= n * slot * 23L) return n;
        return 0;
    }

    /// <summary>Tiles in a row of <paramref name="images"/> images side by side, rounded up to whole three-vector register tiles.</summary>
    internal static int RowTiles(int images, int slot, int lanes) => ConvGeometry.CeilDiv(images * slot, 3 * lanes) * 3 * lanes;

    /// <summary>y = conv(x, w) + bias, through ReLU when <paramref name="relu"/>; NCHW x and y, w [O, C, 3, 3], bias may be null.</summary>
    public static void Forward(float* x, float* w, float* bias, float* y, ConvGeometry g, bool relu = false)
    {
        if (g.Batch == 0) return;
        if (!Applies<float>(g)) throw new ArgumentException("WinogradConv: a 3x3, stride-1, padding-1 float32 convolution of 16 or more channels each way, and a batch that fills rows of tiles");
        int one = FlatConv.PackedLength(g.OutChannels, g.InChannels);
        var packed = ArrayPool<float>.Shared.Rent(16 * one);
        try
        {
            fixed (float* u = packed)
            {
                TransformWeights(w, u, g.OutChannels, g.InChannels, one);
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
    /// U = G w G^T for every (o, c) as 16 weight sets [O, C], one per element of the 4x4 transform, each packed for the
    /// flat kernel's tiles, <paramref name="stride"/> floats apart. In double: G's halves are exact, each sum rounds once.
    /// </summary>
    private static void TransformWeights(float* w, float* packed, int outChannels, int inChannels, int stride)
    {
        long plane = (long)outChannels * inChannels;
        var u = ArrayPool<float>.Shared.Rent(checked((int)(16 * plane)));
        try
        {
            fixed (float* pu = u)
            {
                double* t = stackalloc double[12];
                for (long oc = 0; oc < plane; oc++)
                {
                    float* k = w + oc * 9;
                    for (int col = 0; col < 3; col++) // t = G k, 4 x 3
                    {
                        double k0 = k[col], k1 = k[3 + col], k2 = k[6 + col];
                        t[col] = k0;
                        t[3 + col] = (k0 + k1 + k2) * 0.5;
                        t[6 + col] = (k0 - k1 + k2) * 0.5;
                        t[9 + col] = k2;
                    }
                    for (int row = 0; row < 4; row++) // U = t G^T, 4 x 4
                    {
                        double t0 = t[row * 3], t1 = t[row * 3 + 1], t2 = t[row * 3 + 2];
                        pu[(row * 4 + 0) * plane + oc] = (float)t0;
                        pu[(row * 4 + 1) * plane + oc] = (float)((t0 + t1 + t2) * 0.5);
                        pu[(row * 4 + 2) * plane + oc] = (float)((t0 - t1 + t2) * 0.5);
                        pu[(row * 4 + 3) * plane + oc] = (float)t2;
                    }
                }
                for (int xi = 0; xi < 16; xi++)
                    FlatConv.PackWeights(pu + xi * plane, packed + (long)xi * stride, outChannels, inChannels);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(u);
        }
    }
}

/// <summary>
/// <see cref="WinogradConv"/> at one vector width. A unit of work is a group of images laid side by side, all its
/// bands of tile rows in turn (its input laid out once), or one band of one group when there are too few groups for
/// the pool: image i's padded rows occupy a slot of 2 * slot columns in every row (a zero column, the image's
/// columns, zeros), so tile j of a band row reads input columns 2j to 2j + 3 and writes output columns 2j and 2j + 1
/// whatever image it belongs to. Rows are stored as their even columns then their odd columns, so the four columns of
/// a vector of tiles are four plain loads (even j, odd j, even j + 1, odd j + 1), and the outputs likewise (the copy
/// back to NCHW interleaves them). The band's transformed inputs (16 x C per tile) and products (16 x O) fit in half
/// of L2.
/// </summary>
internal static unsafe class WinogradConv<TV, S> where TV : unmanaged where S : ISimd<TV, float>
{
    [ThreadStatic] private static float[]? t_input, t_v, t_m, t_output;
    [ThreadStatic] private static int[]? t_offsets;

    public static void Forward(float* x, float* u, int uStride, float* bias, float* y, in ConvGeometry g, bool relu)
    {
        var job = new Job(x, u, uStride, bias, y, g, relu);
        if (job.Units == 1) job.Run(0);
        else WorkerPool.For(job.Units, job);
    }

    private sealed class Job : IParallelTask
    {
        private readonly float* _x, _u, _bias, _y;
        private readonly int _uStride;
        private readonly ConvGeometry _g;
        private readonly bool _relu;
        private readonly int _tileRows;  // tile rows of an image: ceil(H / 2)
        private readonly int _slot;      // tiles per image in a row: its 2 * _slot columns hold a zero column, W columns and zeros
        private readonly int _images;    // images side by side in a group
        private readonly int _rowTiles;  // tiles per band row: _images * _slot rounded up to whole register tiles
        private readonly int _half;      // floats of one parity of a padded input row: _rowTiles and the slack a vector of tiles reads past it
        private readonly int _bandRows, _bands, _groups;
        private readonly bool _wholeGroups; // a unit of work is a whole group (else one band of one)

        public Job(float* x, float* u, int uStride, float* bias, float* y, in ConvGeometry g, bool relu)
        {
            _x = x; _u = u; _bias = bias; _y = y;
            (_uStride, _g, _relu) = (uStride, g, relu);
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
            long perTileRow = 16L * (g.InChannels + g.OutChannels) * _rowTiles;
            long budget = Math.Max(CpuInfo.L2Bytes / 2, 256 * 1024) / sizeof(float);
            _bandRows = (int)Math.Clamp(budget / perTileRow, 1, _tileRows);
            _bands = (_tileRows + _bandRows - 1) / _bandRows;
            _wholeGroups = _groups >= 2 * WorkerPool.Threads;
        }

        public int Units => _wholeGroups ? _groups : _groups * _bands;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int unit)
        {
            // A unit is a group's every band when there are groups enough for the pool (its input laid out once), else one band.
            int group = _wholeGroups ? unit : unit / _bands;
            int first = _wholeGroups ? 0 : unit % _bands, end = _wholeGroups ? _bands : first + 1;
            int n0 = group * _images, images = Math.Min(_images, _g.Batch - n0);
            int f0 = first * _bandRows, filled = Math.Min(end * _bandRows, _tileRows) - f0; // the tile rows whose input is laid out
            int c = _g.InChannels, o = _g.OutChannels;
            long row = 2L * _half, channel = (2L * filled + 2) * row; // input floats per padded row (evens then odds) and per channel
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
                   output = DirectConv.Scratch(ref t_output, o * outChannel + S.Count)) // Extract's last vector may read past the last row
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

        /// <summary>Padded input rows 2 t0 to 2 (t0 + rows) + 1 of the group's images side by side, zeros around, every channel, each row as its even then its odd columns.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void FillInput(float* input, long channel, int n0, int images, int t0, int rows)
        {
            int h = _g.InH, w = _g.InW, c = _g.InChannels;
            for (int ci = 0; ci < c; ci++)
            {
                float* plane = input + ci * channel;
                new Span<float>(plane, (int)channel).Clear();
                for (int r = 0; r < 2 * rows + 2; r++)
                {
                    int iy = 2 * t0 + r - 1; // the padded row's input row
                    if ((uint)iy >= (uint)h) continue;
                    float* evens = plane + (long)r * 2 * _half, odds = evens + _half;
                    for (int i = 0; i < images; i++)
                    {
                        // Input column k is padded column k + 1: even k among the odd columns, odd k among the even ones.
                        float* src = _x + (((long)(n0 + i) * c + ci) * h + iy) * w;
                        FlatLayout.CopyEvens<TV, S>(src, w, odds + i * _slot, (w + 1) / 2);
                        if (w > 1) FlatLayout.CopyEvens<TV, S>(src + 1, w - 1, evens + i * _slot + 1, w / 2);
                    }
                }
            }
        }

        /// <summary>V = B^T d B for every tile of one channel: v + xi * pitch + tile holds element xi of the 4x4 result.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void TransformInput(float* input, float* v, long pitch, int rows)
        {
            int lanes = S.Count;
            long row = 2L * _half;
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
        private static void Store4(float* at, long pitch, TV e0, TV e1, TV e2, TV e3)
        {
            S.Store(e0, at);
            S.Store(e1, at + pitch);
            S.Store(e2, at + 2 * pitch);
            S.Store(e3, at + 3 * pitch);
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

        /// <summary>The band's output rows of one channel, each image's slot, back to NCHW y, even and odd columns interleaved.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Extract(float* output, int oi, int n0, int images, int t0, int rows)
        {
            int h = _g.OutH, w = _g.OutW, lanes = S.Count, row = 2 * _rowTiles;
            for (int i = 0; i < images; i++)
            {
                float* dst = _y + ((long)(n0 + i) * _g.OutChannels + oi) * h * w;
                for (int r = 0; r < 2 * rows; r++)
                {
                    int oy = 2 * t0 + r;
                    if (oy >= h) break;
                    float* evens = output + (long)r * row + i * _slot, odds = evens + _rowTiles, to = dst + (long)oy * w;
                    for (int k = 0; 2 * k < w; k += lanes)
                    {
                        TV e = S.Load(evens + k), d = S.Load(odds + k);
                        int left = w - 2 * k;
                        if (left >= 2 * lanes)
                        {
                            S.Store(S.ZipLow(e, d), to + 2 * k);
                            S.Store(S.ZipHigh(e, d), to + 2 * k + lanes);
                        }
                        else if (left > lanes)
                        {
                            S.Store(S.ZipLow(e, d), to + 2 * k);
                            S.StoreFirst(S.ZipHigh(e, d), to + 2 * k + lanes, left - lanes);
                        }
                        else S.StoreFirst(S.ZipLow(e, d), to + 2 * k, left);
                    }
                }
            }
        }
    }
}
