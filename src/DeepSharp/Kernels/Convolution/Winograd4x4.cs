using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// Winograd F(4x4, 3x3) (Lavin and Gray, 2015) for the forward pass, and so the input gradient, of the layers
/// <see cref="WinogradConv"/> takes: each 4x4 block of outputs is A^T [sum over c of (G w G^T) . (B^T d B)] A over its
/// 6x6 input tile, 36 products per channel pair (2.25 per output, against F(2x2, 3x3)'s 4 and a direct convolution's
/// 9). The products are the flat kernel's register tiles, as in <see cref="WinogradConv"/>; B and A hold small integers
/// (the transforms are FMAs by 2, 4, 5 and 8) and G's sixths and twenty-fourths are rounded once, in double, when the
/// weights are transformed (<see cref="Weights"/>); the weight gradient is G^T [sum over tiles of (A gy A^T) . (B^T d B)] G on images large
/// enough (<see cref="AppliesToWeights"/>). The larger constants cost some accuracy against F(2x2, 3x3) (still within
/// the kernels' float32 tolerance of the float64 reference).
/// </summary>
internal static unsafe class Winograd4x4
{
    /// <summary>
    /// Tiles per image in a row of the side-by-side layout: its 4 * slot columns hold a zero column and the image's
    /// columns; the last output column's third tap reads the next slot's zero column when nothing else is left.
    /// </summary>
    internal static int Slot(in ConvGeometry g) => (g.InW + 4) / 4;

    /// <summary>
    /// Whether <see cref="WinogradConv"/> applies, the images are at least <see cref="MinSide"/> pixels each way and the
    /// batch fills rows of this layout's (wider) tiles.
    /// </summary>
    public static bool Applies(in ConvGeometry g) =>
        WinogradConv.Applies<float>(g) && g.InH >= MinSide && g.InW >= MinSide &&
        WinogradConv.GroupImages(g.Batch, Slot(g), SimdWidth.Current / 32) > 0;

    /// <summary>
    /// On smaller images the 6x6 tiles' larger transforms and padding outweigh the fewer products: against F(2x2, 3x3)
    /// at batch 64, 7x7 ran 0.92-0.94x and 8x8 0.96-1.03x, 14x14 1.14-1.21x and 16x16 1.02-1.04x.
    /// </summary>
    internal const int MinSide = 10;

    /// <summary>
    /// Whether the weight gradient takes F(4x4, 3x3): as <see cref="Applies"/>, on images of at least
    /// <see cref="MinSideWeights"/> pixels each way.
    /// </summary>
    public static bool AppliesToWeights(in ConvGeometry g) => Applies(g) && g.InH >= MinSideWeights && g.InW >= MinSideWeights;

    /// <summary>
    /// The weight gradient's 36 planes of transformed inputs and gradients cost more transforms and memory traffic per
    /// product than the forward pass's, and 4-row tiles pad 14-row images by 14 %: against F(2x2, 3x3) at batch 64,
    /// 14x14 layers ran 0.84-0.96x, 28x28 ones 0.90-1.52x (16 -> 16 channels 1.18-1.52x, 32 -> 32 0.90-1.15x).
    /// </summary>
    internal const int MinSideWeights = 20;

    /// <summary>y = conv(x, w) + bias, through ReLU when <paramref name="relu"/>; NCHW x and y, w [O, C, 3, 3], bias may be null.</summary>
    public static void Forward(float* x, float* w, float* bias, float* y, ConvGeometry g, bool relu = false)
    {
        if (g.Batch == 0) return;
        if (!Applies(g)) throw new ArgumentException("Winograd4x4: a 3x3, stride-1, padding-1 float32 convolution of 16 or more channels each way, and a batch that fills rows of tiles");
        int one = WinogradWeights.SetStride(g.OutChannels, g.InChannels);
        var packed = ArrayPool<float>.Shared.Rent(36 * one);
        try
        {
            fixed (float* u = packed)
            {
                WinogradWeights.Transform<Weights>(w, u, g.OutChannels, g.InChannels, one);
                switch (SimdWidth.Current)
                {
                    case 512: Winograd4x4<Vector512<float>, Simd512<float>>.Forward(x, u, one, bias, y, g, relu); break;
                    case 256: Winograd4x4<Vector256<float>, Simd256<float>>.Forward(x, u, one, bias, y, g, relu); break;
                    default: Winograd4x4<Vector128<float>, Simd128<float>>.Forward(x, u, one, bias, y, g, relu); break;
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packed);
        }
    }

    /// <summary>
    /// F(4x4, 3x3)'s weight transforms, in double: G's rows are the kernel polynomial at 0, 1, -1, 1/2, -1/2 and infinity
    /// scaled by 1/4, -1/6, -1/6, 1/6, 1/6 and 1. Its sixths, twelfths and twenty-fourths are multiplications by the
    /// double reciprocals (divisions made the transform 3.6 % of the main thread's time in cnn training); each element is
    /// rounded to float once.
    /// </summary>
    internal readonly struct Weights : IWinogradWeights
    {
        private const double Sixth = 1.0 / 6, Twelfth = 1.0 / 12, TwentyFourth = 1.0 / 24;

        public static int Elements => 36;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Transform(float* k, float* u, long stride)
        {
            // t = G k (6 x 3), a column at a time; then U = t G^T (6 x 6), a row at a time. Locals, not arrays: the
            // values stay in registers.
            G(k[0], k[3], k[6], out double a0, out double a1, out double a2, out double a3, out double a4, out double a5);
            G(k[1], k[4], k[7], out double b0, out double b1, out double b2, out double b3, out double b4, out double b5);
            G(k[2], k[5], k[8], out double c0, out double c1, out double c2, out double c3, out double c4, out double c5);
            Row(u, stride, a0, b0, c0);
            Row(u + 6 * stride, stride, a1, b1, c1);
            Row(u + 12 * stride, stride, a2, b2, c2);
            Row(u + 18 * stride, stride, a3, b3, c3);
            Row(u + 24 * stride, stride, a4, b4, c4);
            Row(u + 30 * stride, stride, a5, b5, c5);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Row(float* u, long stride, double t0, double t1, double t2)
        {
            G(t0, t1, t2, out double e0, out double e1, out double e2, out double e3, out double e4, out double e5);
            u[0] = (float)e0; u[stride] = (float)e1; u[2 * stride] = (float)e2; u[3 * stride] = (float)e3; u[4 * stride] = (float)e4; u[5 * stride] = (float)e5;
        }

        public static void FromSums(double* u, float* k)
        {
            // t = G^T dU (3 x 6), a column at a time; then gw = t G (3 x 3), a row at a time.
            GTranspose(u[0], u[6], u[12], u[18], u[24], u[30], out double a0, out double a1, out double a2);
            GTranspose(u[1], u[7], u[13], u[19], u[25], u[31], out double b0, out double b1, out double b2);
            GTranspose(u[2], u[8], u[14], u[20], u[26], u[32], out double c0, out double c1, out double c2);
            GTranspose(u[3], u[9], u[15], u[21], u[27], u[33], out double d0, out double d1, out double d2);
            GTranspose(u[4], u[10], u[16], u[22], u[28], u[34], out double e0, out double e1, out double e2);
            GTranspose(u[5], u[11], u[17], u[23], u[29], u[35], out double f0, out double f1, out double f2);
            KernelRow(k, a0, b0, c0, d0, e0, f0);
            KernelRow(k + 3, a1, b1, c1, d1, e1, f1);
            KernelRow(k + 6, a2, b2, c2, d2, e2, f2);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void KernelRow(float* k, double t0, double t1, double t2, double t3, double t4, double t5)
        {
            GTranspose(t0, t1, t2, t3, t4, t5, out double e0, out double e1, out double e2);
            k[0] = (float)e0; k[1] = (float)e1; k[2] = (float)e2;
        }

        /// <summary>G^T times a column of six: (u0 / 4 - (u1 + u2) / 6 + (u3 + u4) / 24, (u2 - u1) / 6 + (u3 - u4) / 12, (u3 + u4 - u1 - u2) / 6 + u5).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void GTranspose(double u0, double u1, double u2, double u3, double u4, double u5, out double e0, out double e1, out double e2)
        {
            e0 = u0 * 0.25 - (u1 + u2) * Sixth + (u3 + u4) * TwentyFourth;
            e1 = (u2 - u1) * Sixth + (u3 - u4) * Twelfth;
            e2 = (u3 + u4 - u1 - u2) * Sixth + u5;
        }

        /// <summary>G times a column of three: (k0 / 4, -(k0 + k1 + k2) / 6, -(k0 - k1 + k2) / 6, k0 / 24 + k1 / 12 + k2 / 6, k0 / 24 - k1 / 12 + k2 / 6, k2).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void G(double k0, double k1, double k2, out double e0, out double e1, out double e2, out double e3, out double e4, out double e5)
        {
            e0 = k0 * 0.25;
            e1 = -(k0 + k1 + k2) * Sixth;
            e2 = -(k0 - k1 + k2) * Sixth;
            e3 = k0 * TwentyFourth + k1 * Twelfth + k2 * Sixth;
            e4 = k0 * TwentyFourth - k1 * Twelfth + k2 * Sixth;
            e5 = k2;
        }
    }
}

/// <summary>
/// <see cref="Winograd4x4"/> at one vector width. The layout is <see cref="WinogradConv{TV,S}"/>'s with tiles four
/// columns wide: tile j of a row reads padded columns 4j to 4j + 5 and covers output columns 4j to 4j + 3, and rows are
/// stored as four phases (columns 4j, 4j + 1, 4j + 2, 4j + 3 at index j), so a vector of tiles' six columns are six plain
/// loads (phases 0-3 at j, phases 0 and 1 at j + 1). A unit of work is a whole group of images, or one band of tile rows
/// of one when there are too few groups for the pool.
/// </summary>
internal static unsafe class Winograd4x4<TV, S> where TV : unmanaged where S : ISimd<TV, float>
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
    /// The weight gradient's 36 element-wise sums dU = sum over tiles of (A gy A^T) . (B^T d B), as
    /// <paramref name="parts"/> partial sums [part][36][O][C] over fixed ranges of tile rows.
    /// </summary>
    public static void BackwardWeight(float* x, float* gy, float* partials, in ConvGeometry g, int parts)
    {
        var job = new WeightJob(x, gy, partials, g, parts);
        if (parts == 1) job.Run(0);
        else WorkerPool.For(parts, job);
    }

    /// <summary>The four-phase side-by-side layout of a convolution's input: groups of images, their tile rows, and the input transform.</summary>
    private abstract class Tiling
    {
        protected readonly float* _x;
        protected readonly ConvGeometry _g;
        protected readonly int _tileRows;  // tile rows of an image: ceil(H / 4)
        protected readonly int _slot;      // tiles per image in a row
        protected readonly int _images;    // images side by side in a group
        protected readonly int _rowTiles;  // tiles per row: _images * _slot rounded up to whole register tiles
        protected readonly int _phase;     // floats of one phase of a padded input row: _rowTiles and the slack a vector of tiles reads past it
        protected readonly int _groups;

        protected Tiling(float* x, in ConvGeometry g)
        {
            _x = x;
            _g = g;
            int lanes = S.Count;
            _tileRows = (g.InH + 3) / 4;
            _slot = Winograd4x4.Slot(g);
            _images = WinogradConv.GroupImages(g.Batch, _slot, lanes);
            if (_images == 0) throw new ArgumentException("Winograd4x4: the batch does not fill a row of register tiles");
            _rowTiles = WinogradConv.RowTiles(_images, _slot, lanes);
            _phase = _rowTiles + lanes;
            _groups = (g.Batch + _images - 1) / _images;
        }

        /// <summary>Input floats per padded row (four phases).</summary>
        protected long InputRow => 4L * _phase;

        /// <summary>Input floats per channel for <paramref name="rows"/> tile rows: their 4 rows + 2 padded rows.</summary>
        protected long InputChannel(int rows) => (4L * rows + 2) * InputRow;

        /// <summary>Floats of a padded line of a group's images: four per tile and the slack whole-vector copies write past.</summary>
        protected long LineLength => 4L * (_rowTiles + S.Count);

        /// <summary>
        /// Padded input rows 4 t0 to 4 (t0 + rows) + 1 of the group's images side by side, zeros around, every channel,
        /// each row as its four phases: the images' columns are first copied into one padded line, which is then split
        /// into phases a vector of tiles at a time (one image's row is shorter than a vector).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        protected void FillInput(float* input, long channel, int n0, int images, int t0, int rows)
        {
            int h = _g.InH, w = _g.InW, c = _g.InChannels, lanes = S.Count, width = 4 * _slot;
            fixed (float* line = DirectConv.Scratch(ref t_line, LineLength))
            {
                new Span<float>(line, (int)LineLength).Clear();
                for (int ci = 0; ci < c; ci++)
                {
                    float* plane = input + ci * channel;
                    // Every float is written: rows outside the image as zeros, the others by Split (slack included).
                    for (int r = 0; r < 4 * rows + 2; r++)
                    {
                        int iy = 4 * t0 + r - 1; // the padded row's input row
                        if ((uint)iy >= (uint)h)
                        {
                            new Span<float>(plane + (long)r * InputRow, (int)(InputRow)).Clear();
                            continue;
                        }
                        // Input column k is padded column k + 1 of the image's slot; the rest of the line is zero.
                        for (int i = 0; i < images; i++)
                            WinogradConv<TV, S>.IntoLine(_x + (((long)(n0 + i) * c + ci) * h + iy) * w, line + i * width + 1, w);
                        Split(line, plane + (long)r * InputRow, _phase);
                    }
                }
            }
        }

        /// <summary>
        /// A line's four phases (columns 4j + p) to <paramref name="phases"/> + p * <paramref name="pitch"/>, a vector of
        /// tiles at a time, and zeros from the end of each up to the pitch (the slack a vector of tiles reads past the last tile).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        protected void Split(float* line, float* phases, int pitch)
        {
            int lanes = S.Count;
            for (int p = 0; p < 4; p++)
            {
                float* to = phases + p * pitch;
                for (int j = 0; j < _rowTiles; j += lanes)
                {
                    float* from = line + p + 4 * j;
                    S.Store(S.Evens(S.Evens(S.Load(from), S.Load(from + lanes)), S.Evens(S.Load(from + 2 * lanes), S.Load(from + 3 * lanes))), to + j);
                }
                for (int j = _rowTiles; j < pitch; j += lanes) S.Store(S.Zero, to + j);
            }
        }

        /// <summary>V = B^T d B for every tile of one channel: v + xi * pitch + tile holds element xi of the 6x6 result.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        protected void TransformInput(float* input, float* v, long pitch, int rows)
        {
            int lanes = S.Count, phase = _phase;
            long row = InputRow;
            for (int tr = 0; tr < rows; tr++)
                for (int j = 0; j < _rowTiles; j += lanes)
                {
                    float* p = input + 4 * tr * row + j, at = v + (long)tr * _rowTiles + j;
                    // B^T over each of the six rows, then over the rows column by column: the first three columns of all
                    // rows, then the last three, so 18 values stay in registers (36 went through the stack, and a 512-bit
                    // store costs two cycles); the rows' loads are repeated instead, and each value is computed once.
                    RowFirstHalf(p, phase, out TV a0, out TV a1, out TV a2);
                    RowFirstHalf(p + row, phase, out TV b0, out TV b1, out TV b2);
                    RowFirstHalf(p + 2 * row, phase, out TV c0, out TV c1, out TV c2);
                    RowFirstHalf(p + 3 * row, phase, out TV d0, out TV d1, out TV d2);
                    RowFirstHalf(p + 4 * row, phase, out TV e0, out TV e1, out TV e2);
                    RowFirstHalf(p + 5 * row, phase, out TV f0, out TV f1, out TV f2);
                    TransformColumn(at, pitch, a0, b0, c0, d0, e0, f0);
                    TransformColumn(at + pitch, pitch, a1, b1, c1, d1, e1, f1);
                    TransformColumn(at + 2 * pitch, pitch, a2, b2, c2, d2, e2, f2);
                    RowSecondHalf(p, phase, out a0, out a1, out a2);
                    RowSecondHalf(p + row, phase, out b0, out b1, out b2);
                    RowSecondHalf(p + 2 * row, phase, out c0, out c1, out c2);
                    RowSecondHalf(p + 3 * row, phase, out d0, out d1, out d2);
                    RowSecondHalf(p + 4 * row, phase, out e0, out e1, out e2);
                    RowSecondHalf(p + 5 * row, phase, out f0, out f1, out f2);
                    TransformColumn(at + 3 * pitch, pitch, a0, b0, c0, d0, e0, f0);
                    TransformColumn(at + 4 * pitch, pitch, a1, b1, c1, d1, e1, f1);
                    TransformColumn(at + 5 * pitch, pitch, a2, b2, c2, d2, e2, f2);
                }
        }

        /// <summary>Elements 0-2 of B^T d for an input row's six values of a vector of tiles (phases 0-3 at j, phases 0 and 1 at j + 1).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void RowFirstHalf(float* q, int phase, out TV e0, out TV e1, out TV e2) =>
            FirstHalf(S.Load(q), S.Load(q + phase), S.Load(q + 2 * phase), S.Load(q + 3 * phase), S.Load(q + 1), out e0, out e1, out e2);

        /// <summary>Elements 3-5 of B^T d for an input row (see <see cref="RowFirstHalf"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void RowSecondHalf(float* q, int phase, out TV e3, out TV e4, out TV e5) =>
            SecondHalf(S.Load(q + phase), S.Load(q + 2 * phase), S.Load(q + 3 * phase), S.Load(q + 1), S.Load(q + phase + 1), out e3, out e4, out e5);

        /// <summary>B^T over a column of six row-transformed values, stored as that column of the 6x6 tile.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void TransformColumn(float* at, long pitch, TV r0, TV r1, TV r2, TV r3, TV r4, TV r5)
        {
            Transform(r0, r1, r2, r3, r4, r5, out TV e0, out TV e1, out TV e2, out TV e3, out TV e4, out TV e5);
            StoreColumn(at, pitch, e0, e1, e2, e3, e4, e5);
        }

        /// <summary>Column col of a 6x6 transformed tile: its six rows' elements, 6 * <paramref name="pitch"/> floats apart.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        protected static void StoreColumn(float* at, long pitch, TV e0, TV e1, TV e2, TV e3, TV e4, TV e5)
        {
            S.Store(e0, at);
            S.Store(e1, at + 6 * pitch);
            S.Store(e2, at + 12 * pitch);
            S.Store(e3, at + 18 * pitch);
            S.Store(e4, at + 24 * pitch);
            S.Store(e5, at + 30 * pitch);
        }

        /// <summary>
        /// B^T d for six values: (4 d0 - 5 d2 + d4, -4 d1 - 4 d2 + d3 + d4, 4 d1 - 4 d2 - d3 + d4, -2 d1 - d2 + 2 d3 + d4,
        /// 2 d1 - d2 - 2 d3 + d4, 4 d1 - 5 d3 + d5), sharing the sums the rows have in common.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        protected static void Transform(TV d0, TV d1, TV d2, TV d3, TV d4, TV d5, out TV e0, out TV e1, out TV e2, out TV e3, out TV e4, out TV e5)
        {
            FirstHalf(d0, d1, d2, d3, d4, out e0, out e1, out e2);
            SecondHalf(d1, d2, d3, d4, d5, out e3, out e4, out e5);
        }

        /// <summary>Elements 0-2 of <see cref="Transform"/> (they share 4 d2 - d4 and 4 d1 - d3).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void FirstHalf(TV d0, TV d1, TV d2, TV d3, TV d4, out TV e0, out TV e1, out TV e2)
        {
            e0 = S.Fma(S.Splat(4f), d0, S.Fma(S.Splat(-5f), d2, d4));
            TV a = S.Fma(S.Splat(-4f), d2, d4), b = S.Fma(S.Splat(-4f), d1, d3);
            e1 = S.Add(a, b);
            e2 = S.Sub(a, b);
        }

        /// <summary>Elements 3-5 of <see cref="Transform"/> (they share d4 - d2 and 2 (d3 - d1)).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void SecondHalf(TV d1, TV d2, TV d3, TV d4, TV d5, out TV e3, out TV e4, out TV e5)
        {
            TV c = S.Sub(d4, d2), d = S.Sub(d3, d1);
            d = S.Add(d, d);
            e3 = S.Add(c, d);
            e4 = S.Sub(c, d);
            e5 = S.Fma(S.Splat(4f), d1, S.Fma(S.Splat(-5f), d3, d5));
        }
    }

    /// <summary>
    /// The forward pass. A unit of work is a whole group of images, or one band of tile rows of one when there are too
    /// few groups for the pool; a band's transformed inputs and products fit in half of L2 (or are one tile row).
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
            _uStride = uStride;
            _relu = relu;
            long perTileRow = 36L * (g.InChannels + g.OutChannels) * _rowTiles;
            long budget = Math.Max(CpuInfo.L2Bytes / 2, 256 * 1024) / sizeof(float);
            _bandRows = (int)Math.Clamp(budget / perTileRow, 1, _tileRows);
            _bands = (_tileRows + _bandRows - 1) / _bandRows;
            _ranges = WinogradConv.BandRanges(_groups, _bands);
        }

        public int Units => _groups * _ranges;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int unit)
        {
            int group = unit / _ranges, range = unit % _ranges;
            int first = range * _bands / _ranges, end = (range + 1) * _bands / _ranges;
            int n0 = group * _images, images = Math.Min(_images, _g.Batch - n0);
            int f0 = first * _bandRows, filled = Math.Min(end * _bandRows, _tileRows) - f0;
            int c = _g.InChannels, o = _g.OutChannels;
            long row = InputRow, channel = InputChannel(filled);
            int most = _bandRows * _rowTiles;
            // A cache line between the 36 planes of V and of M, as in WinogradConv: 4 KiB apart, they share an L1 set.
            long vPlane = (long)c * most + 16, mPlane = (long)o * most + 16;
            long outChannel = 4L * _bandRows * 4 * _rowTiles; // output rows, each as four phases
            t_offsets ??= new int[c];
            if (t_offsets.Length < c) t_offsets = new int[c];
            fixed (float* input = DirectConv.Scratch(ref t_input, c * channel),
                   v = DirectConv.Scratch(ref t_v, 36 * vPlane),
                   m = DirectConv.Scratch(ref t_m, 36 * mPlane),
                   output = DirectConv.Scratch(ref t_output, o * outChannel))
            fixed (int* offsets = t_offsets)
            {
                FillInput(input, channel, n0, images, f0, filled);
                for (int band = first; band < end; band++)
                {
                    int t0 = band * _bandRows, rows = Math.Min(_bandRows, _tileRows - t0), positions = rows * _rowTiles;
                    for (int ci = 0; ci < c; ci++)
                        TransformInput(input + ci * channel + 4 * (t0 - f0) * row, v + (long)ci * positions, vPlane, rows);
                    for (int ci = 0; ci < c; ci++) offsets[ci] = ci * positions;
                    for (int xi = 0; xi < 36; xi++)
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
        /// m + xi * pitch: output rows 4t to 4t + 3 of the band, each as its four phases.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void TransformOutput(float* m, long pitch, float* output, int rows, float bias)
        {
            int lanes = S.Count, row = 4 * _rowTiles;
            TV b = S.Splat(bias);
            for (int t = 0; t < rows; t++)
                for (int j = 0; j < _rowTiles; j += lanes)
                {
                    float* at = m + (long)t * _rowTiles + j, to = output + (long)4 * t * row + j;
                    // A^T over M's rows for each column (24 values, in registers rather than through the stack), then over
                    // the columns of each of the four results.
                    ReduceColumn(at, pitch, out TV a0, out TV a1, out TV a2, out TV a3);
                    ReduceColumn(at + pitch, pitch, out TV b0, out TV b1, out TV b2, out TV b3);
                    ReduceColumn(at + 2 * pitch, pitch, out TV c0, out TV c1, out TV c2, out TV c3);
                    ReduceColumn(at + 3 * pitch, pitch, out TV d0, out TV d1, out TV d2, out TV d3);
                    ReduceColumn(at + 4 * pitch, pitch, out TV e0, out TV e1, out TV e2, out TV e3);
                    ReduceColumn(at + 5 * pitch, pitch, out TV f0, out TV f1, out TV f2, out TV f3);
                    OutputRow(to, a0, b0, c0, d0, e0, f0, b);
                    OutputRow(to + row, a1, b1, c1, d1, e1, f1, b);
                    OutputRow(to + 2 * row, a2, b2, c2, d2, e2, f2, b);
                    OutputRow(to + 3 * row, a3, b3, c3, d3, e3, f3, b);
                }
        }

        /// <summary>A^T over column col of M's 6x6 tile (its six rows, 6 * <paramref name="pitch"/> floats apart).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void ReduceColumn(float* at, long pitch, out TV y0, out TV y1, out TV y2, out TV y3) =>
            Reduce(S.Load(at), S.Load(at + 6 * pitch), S.Load(at + 12 * pitch), S.Load(at + 18 * pitch), S.Load(at + 24 * pitch),
                S.Load(at + 30 * pitch), out y0, out y1, out y2, out y3);

        /// <summary>A^T over one row of six column results, plus the bias (through ReLU when asked): the output row's four phases.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void OutputRow(float* to, TV m0, TV m1, TV m2, TV m3, TV m4, TV m5, TV bias)
        {
            Reduce(m0, m1, m2, m3, m4, m5, out TV y0, out TV y1, out TV y2, out TV y3);
            y0 = S.Add(y0, bias); y1 = S.Add(y1, bias); y2 = S.Add(y2, bias); y3 = S.Add(y3, bias);
            if (_relu)
            {
                TV zero = S.Zero;
                y0 = S.Max(y0, zero); y1 = S.Max(y1, zero); y2 = S.Max(y2, zero); y3 = S.Max(y3, zero);
            }
            S.Store(y0, to);
            S.Store(y1, to + _rowTiles);
            S.Store(y2, to + 2 * _rowTiles);
            S.Store(y3, to + 3 * _rowTiles);
        }

        /// <summary>A^T m for six values: (m0 + m1 + m2 + m3 + m4, m1 - m2 + 2 (m3 - m4), m1 + m2 + 4 (m3 + m4), m1 - m2 + 8 (m3 - m4) + m5).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Reduce(TV m0, TV m1, TV m2, TV m3, TV m4, TV m5, out TV y0, out TV y1, out TV y2, out TV y3)
        {
            TV a = S.Add(m1, m2), b = S.Sub(m1, m2), c = S.Add(m3, m4), d = S.Sub(m3, m4);
            y0 = S.Add(S.Add(m0, a), c);
            y1 = S.Fma(S.Splat(2f), d, b);
            y2 = S.Fma(S.Splat(4f), c, a);
            y3 = S.Add(S.Fma(S.Splat(8f), d, b), m5);
        }

        /// <summary>
        /// The band's output rows of one channel back to NCHW y: the four phases of a row are interleaved a vector of tiles
        /// at a time. When an image's columns are whole vectors (4 * slot a multiple of the lanes: 28x28 and 14x14 images
        /// at every width), each interleaved vector lies within one image and goes straight to its row in y; otherwise
        /// through one line, from which each image's columns are copied.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Extract(float* output, int oi, int n0, int images, int t0, int rows)
        {
            int h = _g.OutH, w = _g.OutW, lanes = S.Count, row = 4 * _rowTiles, width = 4 * _slot;
            int used = ConvGeometry.CeilDiv(images * _slot, lanes) * lanes; // tiles holding this group's images
            bool direct = width % lanes == 0;
            long image = (long)_g.OutChannels * h * w;
            fixed (float* line = DirectConv.Scratch(ref t_line, LineLength))
                for (int r = 0; r < 4 * rows; r++)
                {
                    int oy = 4 * t0 + r;
                    if (oy >= h) break;
                    float* phases = output + (long)r * row, first = _y + (((long)n0 * _g.OutChannels + oi) * h + oy) * w;
                    for (int k = 0; k < used; k += lanes)
                    {
                        TV p0 = S.Load(phases + k), p1 = S.Load(phases + _rowTiles + k);
                        TV p2 = S.Load(phases + 2 * _rowTiles + k), p3 = S.Load(phases + 3 * _rowTiles + k);
                        TV lo02 = S.ZipLow(p0, p2), hi02 = S.ZipHigh(p0, p2), lo13 = S.ZipLow(p1, p3), hi13 = S.ZipHigh(p1, p3);
                        TV q0 = S.ZipLow(lo02, lo13), q1 = S.ZipHigh(lo02, lo13), q2 = S.ZipLow(hi02, hi13), q3 = S.ZipHigh(hi02, hi13);
                        if (direct)
                        {
                            int column = 4 * k;
                            IntoImage(q0, column, first, image, images, width, w);
                            IntoImage(q1, column + lanes, first, image, images, width, w);
                            IntoImage(q2, column + 2 * lanes, first, image, images, width, w);
                            IntoImage(q3, column + 3 * lanes, first, image, images, width, w);
                            continue;
                        }
                        float* at = line + 4 * k;
                        S.Store(q0, at);
                        S.Store(q1, at + lanes);
                        S.Store(q2, at + 2 * lanes);
                        S.Store(q3, at + 3 * lanes);
                    }
                    if (direct) continue;
                    for (int i = 0; i < images; i++)
                        WinogradConv<TV, S>.FromLine(line + i * width, first + i * image, w);
                }
        }

        /// <summary>
        /// Columns <paramref name="column"/> to column + lanes - 1 of the group's output row (whole vectors of one image's
        /// <paramref name="width"/> columns) into that image's row of y, leaving out the columns past the image.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void IntoImage(TV value, int column, float* first, long image, int images, int width, int w)
        {
            int i = column / width, x = column - i * width;
            if (i >= images || x >= w) return;
            float* to = first + i * image + x;
            if (w - x >= S.Count) S.Store(value, to);
            else S.StoreFirst(value, to, w - x);
        }
    }

    /// <summary>
    /// The weight gradient (<see cref="WinogradConv{TV,S}"/>'s WeightJob with 6x6 tiles): dU[o, c] = sum over tiles of
    /// dM[o, tile] V[c, tile] for each of the 36 elements, V = B^T d B as in the forward pass and dM = A gy A^T; part p
    /// takes a fixed range of the batch's tile rows, chunk by chunk (<see cref="WinogradConv{TV,S}.WeightPart"/>).
    /// </summary>
    private sealed class WeightJob : Tiling, IParallelTask, WinogradConv<TV, S>.IWeightTiles
    {
        private readonly float* _gy, _partials;
        private readonly int _parts, _chunkRows;

        public WeightJob(float* x, float* gy, float* partials, in ConvGeometry g, int parts) : base(x, g)
        {
            _gy = gy;
            _partials = partials;
            _parts = parts;
            _chunkRows = WinogradConv<TV, S>.WeightChunkRows(g, _rowTiles, _groups * _tileRows);
        }

        public void Run(int part) => WinogradConv<TV, S>.WeightPart(this, _g, _partials, part, _parts);

        public int Elements => 36;
        public int TileRows => _tileRows;
        public int RowTiles => _rowTiles;
        public int Images => _images;
        public int Groups => _groups;
        public int ChunkRows => _chunkRows;
        public long GradientChannel(int rows) => 4L * rows * 4 * _rowTiles;
        long WinogradConv<TV, S>.IWeightTiles.InputChannel(int rows) => InputChannel(rows);

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

        /// <summary>Output gradient rows 4 t0 to 4 (t0 + rows) - 1 of the group's images side by side, each as its four phases; zeros where no output is.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void FillGradient(float* grad, long channel, int n0, int images, int t0, int rows)
        {
            int h = _g.OutH, w = _g.OutW, o = _g.OutChannels, row = 4 * _rowTiles, width = 4 * _slot;
            fixed (float* line = DirectConv.Scratch(ref t_line, LineLength))
            {
                new Span<float>(line, (int)LineLength).Clear();
                for (int oi = 0; oi < o; oi++)
                {
                    float* plane = grad + oi * channel;
                    for (int r = 0; r < 4 * rows; r++)
                    {
                        int oy = 4 * t0 + r;
                        if (oy >= h) // the rest of the band is below the images: zeros
                        {
                            new Span<float>(plane + (long)r * row, (int)(channel - (long)r * row)).Clear();
                            break;
                        }
                        // Output column k of an image is column k of its slot; the columns past the image stay zero.
                        for (int i = 0; i < images; i++)
                            WinogradConv<TV, S>.IntoLine(_gy + (((long)(n0 + i) * o + oi) * h + oy) * w, line + i * width, w);
                        Split(line, plane + (long)r * row, _rowTiles);
                    }
                }
            }
        }

        /// <summary>dM = A gy A^T for every tile of one output channel: each row of a 4x4 gradient tile times A, then A over the rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void TransformGradient(float* grad, float* m, long pitch, int rows)
        {
            int lanes = S.Count, row = 4 * _rowTiles, rt = _rowTiles;
            for (int tr = 0; tr < rows; tr++)
                for (int j = 0; j < _rowTiles; j += lanes)
                {
                    float* p = grad + (long)4 * tr * row + j, at = m + (long)tr * _rowTiles + j;
                    // A over each of the four rows, then over the rows column by column: the first three columns, then the
                    // last three (12 values in registers at a time; the rows' loads are repeated).
                    ExpandFirstHalf(p, rt, out TV a0, out TV a1, out TV a2);
                    ExpandFirstHalf(p + row, rt, out TV b0, out TV b1, out TV b2);
                    ExpandFirstHalf(p + 2 * row, rt, out TV c0, out TV c1, out TV c2);
                    ExpandFirstHalf(p + 3 * row, rt, out TV d0, out TV d1, out TV d2);
                    ExpandColumn(at, pitch, a0, b0, c0, d0);
                    ExpandColumn(at + pitch, pitch, a1, b1, c1, d1);
                    ExpandColumn(at + 2 * pitch, pitch, a2, b2, c2, d2);
                    ExpandSecondHalf(p, rt, out a0, out a1, out a2);
                    ExpandSecondHalf(p + row, rt, out b0, out b1, out b2);
                    ExpandSecondHalf(p + 2 * row, rt, out c0, out c1, out c2);
                    ExpandSecondHalf(p + 3 * row, rt, out d0, out d1, out d2);
                    ExpandColumn(at + 3 * pitch, pitch, a0, b0, c0, d0);
                    ExpandColumn(at + 4 * pitch, pitch, a1, b1, c1, d1);
                    ExpandColumn(at + 5 * pitch, pitch, a2, b2, c2, d2);
                }
        }

        /// <summary>Elements 0-2 of A y for a gradient row's four phases (<paramref name="phase"/> floats apart).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void ExpandFirstHalf(float* q, int phase, out TV e0, out TV e1, out TV e2) =>
            ExpandFirst(S.Load(q), S.Load(q + phase), S.Load(q + 2 * phase), S.Load(q + 3 * phase), out e0, out e1, out e2);

        /// <summary>Elements 3-5 of A y for a gradient row (see <see cref="ExpandFirstHalf"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void ExpandSecondHalf(float* q, int phase, out TV e3, out TV e4, out TV e5) =>
            ExpandSecond(S.Load(q), S.Load(q + phase), S.Load(q + 2 * phase), S.Load(q + 3 * phase), out e3, out e4, out e5);

        /// <summary>A over a column of four row-expanded values, stored as that column of the 6x6 tile.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void ExpandColumn(float* at, long pitch, TV r0, TV r1, TV r2, TV r3)
        {
            Expand(r0, r1, r2, r3, out TV e0, out TV e1, out TV e2, out TV e3, out TV e4, out TV e5);
            StoreColumn(at, pitch, e0, e1, e2, e3, e4, e5);
        }

        /// <summary>A y for four values (A^T transposed): (y0, y0 + y1 + y2 + y3, y0 - y1 + y2 - y3, y0 + 2 y1 + 4 y2 + 8 y3, y0 - 2 y1 + 4 y2 - 8 y3, y3).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Expand(TV y0, TV y1, TV y2, TV y3, out TV e0, out TV e1, out TV e2, out TV e3, out TV e4, out TV e5)
        {
            ExpandFirst(y0, y1, y2, y3, out e0, out e1, out e2);
            ExpandSecond(y0, y1, y2, y3, out e3, out e4, out e5);
        }

        /// <summary>Elements 0-2 of <see cref="Expand"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void ExpandFirst(TV y0, TV y1, TV y2, TV y3, out TV e0, out TV e1, out TV e2)
        {
            TV a = S.Add(y0, y2), b = S.Add(y1, y3);
            e0 = y0;
            e1 = S.Add(a, b);
            e2 = S.Sub(a, b);
        }

        /// <summary>Elements 3-5 of <see cref="Expand"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void ExpandSecond(TV y0, TV y1, TV y2, TV y3, out TV e3, out TV e4, out TV e5)
        {
            TV c = S.Fma(S.Splat(4f), y2, y0), d = S.Fma(S.Splat(8f), y3, S.Add(y1, y1));
            e3 = S.Add(c, d);
            e4 = S.Sub(c, d);
            e5 = y3;
        }
    }
}
