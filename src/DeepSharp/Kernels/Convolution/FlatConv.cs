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
/// rows (likewise sharing their top/bottom border), or, for a chunk whose output goes back to NCHW, the chunk's images
/// side by side in each row (no border rows between them to compute). In that layout every tap (ky, kx) of every output position q is
/// the input at q + ky * rowStride + kx, so the whole chunk is one 1-D convolution over positions: vector loads
/// with no bounds checks, whatever the image width (a 7x7 plane wastes 23 % of the lanes, not the 56 % of
/// row-by-row vectors). Positions that fall in a border column or row are computed and dropped. The weight gradient
/// runs over the same layout, one tap at a time, as dot products of the output gradient and the shifted input.
/// The inference plan keeps whole batches in this layout between convolutions (<see cref="FlatShape"/>): a
/// convolution then reads its input in place and writes its output into the layout its readers take.
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

    /// <summary>Whether the weight-gradient kernel takes this shape: those of the forward kernel (strides above 1 through phase planes).</summary>
    public static bool Applies<T>(in ConvGeometry g) => AppliesForward<T>(g);

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
    /// With <paramref name="residual"/> (y's shape), y = conv + residual, then ReLU when <paramref name="relu"/>: the
    /// inference plan's residual connection. x, y and the residual are NCHW, or flat of shapes <paramref name="xs"/>,
    /// <paramref name="ys"/> and <paramref name="rs"/> (see <see cref="FlatShape"/>; a flat output needs a flat residual):
    /// the plan keeps activations flat between convolutions instead of laying each input out and copying each output back.
    /// </summary>
    public static void ForwardPacked(float* x, float* packed, float* bias, float* y, ConvGeometry g, bool relu, float* residual = null,
        FlatShape? xs = null, FlatShape? ys = null, FlatShape? rs = null)
    {
        switch (SimdWidth.Current)
        {
            case 512: FlatConv<Vector512<float>, Simd512<float>>.Forward(x, xs, packed, bias, y, ys, g, relu, residual, rs); break;
            case 256: FlatConv<Vector256<float>, Simd256<float>>.Forward(x, xs, packed, bias, y, ys, g, relu, residual, rs); break;
            default: FlatConv<Vector128<float>, Simd128<float>>.Forward(x, xs, packed, bias, y, ys, g, relu, residual, rs); break;
        }
    }

    /// <summary>Lays out a batch of NCHW <paramref name="x"/> as a flat value of shape <paramref name="shape"/>, channels split over the pool.</summary>
    public static void ToFlat(float* x, float* flat, FlatShape shape, int batch)
    {
        switch (SimdWidth.Current)
        {
            case 512: FlatConv<Vector512<float>, Simd512<float>>.ToFlat(x, flat, shape, batch); break;
            case 256: FlatConv<Vector256<float>, Simd256<float>>.ToFlat(x, flat, shape, batch); break;
            default: FlatConv<Vector128<float>, Simd128<float>>.ToFlat(x, flat, shape, batch); break;
        }
    }

    /// <summary>The weights [O, K] of <paramref name="g"/> in the layout the forward kernel reads (see <see cref="PackWeights(float*, float*, int, int)"/>).</summary>
    public static float[] PackWeights(float* w, in ConvGeometry g)
    {
        var packed = new float[PackedLength(g)];
        fixed (float* pw = packed) PackWeights(w, pw, g.OutChannels, g.K);
        return packed;
    }

    private static int PackedLength(in ConvGeometry g) => PackedLength(g.OutChannels, g.K);

    /// <summary>Floats that <see cref="PackWeights(float*, float*, int, int)"/> writes for [outChannels, k] weights.</summary>
    internal static int PackedLength(int outChannels, int k) => checked((outChannels + Rows - 1) / Rows * Rows * k);

    /// <summary>
    /// Weights [O, K] as blocks of <see cref="Rows"/> output channels, tap-major inside a block:
    /// packed[(b K + t) Rows + r] = w[b Rows + r, t] (zero for channels past O), so a tile's weights of one tap are adjacent.
    /// </summary>
    internal static void PackWeights(float* w, float* packed, int outChannels, int k)
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

/// <summary><see cref="FlatConv"/> at one vector width.</summary>
internal static unsafe class FlatConv<TV, S> where TV : unmanaged where S : ISimd<TV, float>
{
    private const int R = FlatConv.Rows, V = FlatConv.Columns;


    [ThreadStatic] private static float[]? t_input;
    [ThreadStatic] private static float[]? t_output;
    [ThreadStatic] private static int[]? t_offsets;


    /// <summary>
    /// y = conv(x) + bias (+ residual), through ReLU when <paramref name="relu"/>. x is NCHW, or a whole-batch flat
    /// value of shape <paramref name="xs"/>; y and the residual are NCHW, or flat of shapes <paramref name="ys"/> and
    /// <paramref name="rs"/> (a flat y needs a flat residual of its shape: the tiles add it).
    /// A flat input of a stride-1 layer is read in place; other inputs are laid out chunk by chunk in scratch.
    /// A flat output is written in place at its layout's origin past the computed positions, borders zeroed after.
    /// </summary>
    public static void Forward(float* x, FlatShape? xs, float* w, float* bias, float* y, FlatShape? ys, ConvGeometry g, bool relu,
        float* residual, FlatShape? rs)
    {
        if (residual is not null && ys is not null && rs != ys)
            throw new ArgumentException("FlatConv: a flat output takes a residual of its own flat shape");
        var job = new ForwardJob(x, xs, w, bias, y, ys, g, relu, residual, rs);
        int chunks = (g.Batch + job.ChunkImages - 1) / job.ChunkImages;
        int blocks = (g.OutChannels + R - 1) / R;
        job.ClearOutside(); // a flat output is written whole even for an empty batch
        if (g.Batch == 0) return;
        // Few chunks (small batches) also split each chunk, so that a second thread has work: its output channels, whole
        // tiles of eight, where there are more than two tiles; else, for a flat output, its positions.
        bool byPositions = blocks <= 2 && ys is not null;
        if (chunks >= 2 * WorkerPool.Threads || (blocks <= 2 && !byPositions) || WorkerPool.Threads == 1)
        {
            if (chunks == 1) job.Run(0);
            else WorkerPool.For(chunks, job);
            return;
        }
        int groups = byPositions ? WorkerPool.Threads : Math.Min((blocks + 1) / 2, WorkerPool.Threads);
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            var input = job.Prepare(chunk);
            if (byPositions)
            {
                job.Split(input, null, groups, byPositions: true);
                WorkerPool.For(groups, job);
                job.ClearBorders(input, 0, g.OutChannels); // once every group has written its positions
                continue;
            }
            fixed (float* scratch = job.OutputScratch(input.Layout))
            {
                job.Split(input, scratch, groups, byPositions: false);
                WorkerPool.For(groups, job);
            }
        }
    }

    /// <summary>NCHW <paramref name="x"/> laid out as a flat value, channels split over the pool from 32K floats (a copy that size repays the hand-off).</summary>
    public static void ToFlat(float* x, float* flat, FlatShape shape, int batch)
    {
        var layout = shape.Layout(batch, S.Count);
        var g = shape.Geometry with { Batch = batch };
        var task = new ToFlatTask(PlaneView.Nchw(x, shape.Channels, shape.H, shape.W), flat, layout, g);
        int parts = (long)shape.Channels * layout.ChannelLength >= 1 << 15 ? Math.Min(WorkerPool.Threads, shape.Channels) : 1;
        task.Parts = parts;
        if (parts == 1) task.Run(0);
        else WorkerPool.For(parts, task);
    }

    private sealed class ToFlatTask(PlaneView x, float* flat, FlatLayout layout, ConvGeometry g) : IParallelTask
    {
        public int Parts { get; set; } = 1;

        public void Run(int part)
        {
            int c0 = (int)((long)g.InChannels * part / Parts), c1 = (int)((long)g.InChannels * (part + 1) / Parts);
            layout.Fill<TV, S>(x.From(c0), c1 - c0, 0, g, flat + (long)c0 * layout.ChannelLength);
        }
    }

    /// <summary>The input of one chunk of images as the tiles read it.</summary>
    private readonly struct ChunkInput(int n0, FlatLayout layout, float* data, bool inPlace)
    {
        public readonly int N0 = n0;
        public readonly FlatLayout Layout = layout; // the chunk's images: positions, rows, columns
        public readonly float* Data = data;         // position 0 of channel 0
        public readonly bool InPlace = inPlace;     // read in the whole flat input (else laid out in scratch by Layout)
    }

    /// <summary>
    /// One forward pass: a chunk of images and all its output channels per <see cref="Run"/>, or after
    /// <see cref="Split"/> a share of the output channels or positions of one chunk (one object per call: the plan's steps
    /// allocate little).
    /// </summary>
    private sealed class ForwardJob : IParallelTask
    {
        private readonly float* _x, _w, _bias, _y, _residual;
        private readonly FlatShape? _xs, _ys, _rs; // input, output and residual shapes, when they are flat
        private readonly ConvGeometry _g;
        private readonly bool _relu;
        public readonly int ChunkImages;
        private ChunkInput _split;   // the chunk whose channels or positions are split, and its output scratch
        private float* _splitScratch;
        private int _groups;
        private bool _byPositions;

        public ForwardJob(float* x, FlatShape? xs, float* w, float* bias, float* y, FlatShape? ys, ConvGeometry g, bool relu, float* residual, FlatShape? rs)
        {
            _x = x; _w = w; _bias = bias; _y = y; _residual = residual;
            _g = g;
            _relu = relu;
            (_xs, _ys, _rs) = (xs, ys, rs);
            ChunkImages = FlatLayout.ChunkImages(g);
        }

        // Whole-batch flat layouts (built when needed: a job object per call stays small).
        private FlatLayout? From => _xs?.Layout(_g.Batch, S.Count);
        private FlatLayout? To => _ys?.Layout(_g.Batch, S.Count);

        public void ClearOutside() => To?.ClearOutside(_y, _g.OutChannels);

        /// <summary>Makes <see cref="Run"/>(part) compute one of <paramref name="groups"/> shares of this chunk's output channels, or of its positions (flat output).</summary>
        public void Split(in ChunkInput input, float* scratch, int groups, bool byPositions)
        {
            _split = input;
            _splitScratch = scratch;
            _groups = groups;
            _byPositions = byPositions;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int part)
        {
            if (_groups > 0 && _byPositions)
            {
                // Whole 3-vector tiles per group; the tiles stay within their group's positions.
                var (q0, q1) = WorkerPool.Range(part, _groups, _split.Layout.Computed(_g), V * S.Count);
                if (q0 < q1) Compute(_split, null, 0, _g.OutChannels, q0, q1);
                return;
            }
            if (_groups > 0)
            {
                int blocks = (_g.OutChannels + R - 1) / R;
                int o0 = (int)((long)blocks * part / _groups) * R, o1 = Math.Min(_g.OutChannels, (int)((long)blocks * (part + 1) / _groups) * R);
                Compute(_split, _splitScratch, o0, o1);
                return;
            }
            var input = Prepare(part);
            fixed (float* scratch = OutputScratch(input.Layout)) Compute(input, scratch, 0, _g.OutChannels);
        }

        /// <summary>Chunk <paramref name="chunk"/>'s input: in place for a flat input of a stride-1 layer, else laid out in this thread's scratch.</summary>
        public ChunkInput Prepare(int chunk)
        {
            int n0 = chunk * ChunkImages, images = Math.Min(ChunkImages, _g.Batch - n0);
            var from = From;
            if (from is { } whole && _g.UnitStride)
                return new ChunkInput(n0, new FlatLayout(_g, images, S.Count), _x + (long)n0 * whole.ImagePitch, inPlace: true);
            // A flat output needs the chunk's positions in its rows and columns (a strided layout widened to them); an
            // NCHW output takes the chunk's images side by side, which computes no border rows between them.
            var layout = To is { } to ? new FlatLayout(_g, images, S.Count, to.RowStride, to.ImageRows) : new FlatLayout(_g, images, S.Count, sideBySide: true);
            float* data = Pin(DirectConv.Scratch(ref t_input, (long)_g.InChannels * layout.Planes * layout.ChannelLength));
            var source = from is { } f ? f.View(_x) : PlaneView.Nchw(_x, _g.InChannels, _g.InH, _g.InW);
            layout.Fill<TV, S>(source, _g.InChannels, n0, _g, data);
            return new ChunkInput(n0, layout, data, inPlace: false);
        }

        /// <summary>Scratch for the computed positions when the output is NCHW (they are copied out after); none for a flat output.</summary>
        public float[] OutputScratch(in FlatLayout chunk) =>
            _ys is null ? DirectConv.Scratch(ref t_output, (long)_g.OutChannels * chunk.Positions) : [];

        /// <summary>
        /// Output channels [o0, o1) of one chunk; with <paramref name="q1"/> given, only positions [q0, q1) of a flat output,
        /// whose borders the caller clears after every share is written.
        /// </summary>
        public void Compute(in ChunkInput input, float* scratch, int o0, int o1, int q0 = 0, int q1 = -1)
        {
            var chunk = input.Layout;
            if (To is { } to)
            {
                // Positions of the chunk's images only (a partial last vector is stored masked): the next chunk's are another thread's.
                long at = to.Origin + (long)input.N0 * to.ImagePitch;
                bool whole = q1 < 0;
                if (whole) q1 = chunk.Computed(_g);
                Channels(input, _w, _bias, _y + at, to.ChannelLength, q0, q1, o0, o1, _relu, _residual is null ? null : _residual + at);
                if (whole) ClearBorders(input, o0, o1);
                return;
            }
            // With a residual, the ReLU comes after the addition, in Extract.
            Channels(input, _w, _bias, scratch, chunk.Positions, 0, chunk.Computed(_g), o0, o1, _relu && _residual is null, null);
            PlaneView? residual = _residual is null ? null
                : _rs is { } add ? add.Layout(_g.Batch, S.Count).View(_residual) : PlaneView.Nchw(_residual, _g.OutChannels, _g.OutH, _g.OutW);
            chunk.Extract<TV, S>(scratch, chunk.Positions, o0, o1, _g.OutChannels, input.N0, _g, _y, residual, _relu);
        }

        /// <summary>Zeroes the borders of output channels [o0, o1) of one chunk of a flat output (its tiles wrote every position between them).</summary>
        public void ClearBorders(in ChunkInput input, int o0, int o1)
        {
            var to = To!.Value;
            long at = to.Origin + (long)input.N0 * to.ImagePitch;
            input.Layout.ClearBorders(_y + at, to.ChannelLength, o0, o1, input.Layout.Images, _g.OutH, _g.OutW);
        }

        // Output channels [o0, o1) at positions [q0, q1): the tiles see the positions from q0 on as their own.
        private void Channels(in ChunkInput input, float* w, float* bias, float* output, long pitch, int q0, int q1, int o0, int o1, bool relu, float* residual)
        {
            t_offsets ??= new int[Math.Max(_g.K, 64)];
            if (t_offsets.Length < _g.K) t_offsets = new int[_g.K];
            fixed (int* offsets = t_offsets)
            {
                (input.InPlace ? From!.Value : input.Layout).TapOffsets(_g, offsets);
                Products(input.Data + q0, offsets, w, _g.K, bias, output + q0, pitch, q1 - q0, o0, o1, relu, residual is null ? null : residual + q0);
            }
        }

        // Scratch arrays are pinned ([ThreadStatic], allocated on the pinned heap): the pointer outlives this method.
        private static float* Pin(float[] array) => (float*)Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(array));
    }

    /// <summary>
    /// output[o, q] = bias[o] + sum over taps t of w[o, t] input[q + offsets[t]] (+ residual[o, q], then max(., 0) when
    /// <paramref name="relu"/>) for output channels [o0, o1) at positions [0, count), w packed by
    /// <see cref="FlatConv.PackWeights(float*, float*, int, int)"/>, channel o at output + o * pitch: the register tiles of
    /// every convolution here, and the batched products of <see cref="WinogradConv"/>.
    /// </summary>
    internal static void Products(float* input, int* offsets, float* w, int taps, float* bias, float* output, long pitch, int count,
        int o0, int o1, bool relu = false, float* residual = null)
    {
        var tile = new Tile(input, w, offsets, bias, output, pitch, count, taps, relu, residual);
        int o = o0;
        if (SimdWidth.VectorRegisters >= 32)
        {
            for (; o + 2 * R <= o1; o += 2 * R) Block8<Rows8>(tile, o);
            // Five to seven channels left take one tile of that many rows, not a block of R and a block mostly
            // of padding channels (LeNet-5's input gradient of its second layer has six).
            switch (o1 - o)
            {
                case 5: Block8<Rows5>(tile, o); o = o1; break;
                case 6: Block8<Rows6>(tile, o); o = o1; break;
                case 7: Block8<Rows7>(tile, o); o = o1; break;
            }
        }
        for (; o < o1; o += R) Block(tile, o, Math.Min(R, o1 - o));
    }

    /// <summary>What every register tile of one chunk shares: where its input, weights, output and residual are.</summary>
    private readonly struct Tile(float* input, float* w, int* offsets, float* bias, float* output, long pitch, int count, int taps, bool relu, float* residual)
    {
        public readonly float* Input = input, W = w, Bias = bias, Output = output, Residual = residual;
        public readonly int* Offsets = offsets;
        public readonly long Pitch = pitch; // floats between output channels (and residual channels)
        public readonly int Count = count, Taps = taps;
        public readonly bool Relu = relu;
    }

    /// <summary>
    /// Output channels [o0, o0 + 8) at every position, 8 x 3 vectors per register tile (24 accumulators): each input
    /// vector, an unaligned load that usually spans two cache lines, feeds eight FMAs instead of four. The last one to
    /// three vectors take a tile of their width ending at the last position, overlapping vectors already stored (the
    /// same values again): no partial vector (a 14x14 image at batch 1 left 2 vectors and a float, computed as three
    /// one-vector tiles, a third of its time).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block8<RM>(in Tile tile, int o0) where RM : struct, IRowCount
    {
        int lanes = S.Count, count = tile.Count, q0 = 0;
        for (; q0 + V * lanes <= count; q0 += V * lanes) Tile8x3<RM>(tile, o0, q0);
        int vectors = (count - q0 + lanes - 1) / lanes, last = count - vectors * lanes;
        if (vectors == 0) return;
        if (last < 0)
            for (; q0 < count; q0 += lanes) Column8<RM>(tile, o0, q0); // a chunk shorter than the tail: masked
        else if (vectors == 3) Tile8x3<RM>(tile, o0, last);
        else if (vectors == 2) Tile8x2<RM>(tile, o0, last);
        else Column8<RM>(tile, o0, last);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8x3<RM>(in Tile tile, int o0, int q0) where RM : struct, IRowCount
    {
        int taps = tile.Taps, lanes = S.Count;
        int* offsets = tile.Offsets;
        float* bias = tile.Bias;
        float* wa = tile.W + (long)o0 * taps, wb = wa + (long)taps * R; // packed: channels o0..o0+3, then o0+4..o0+7 one block further
        TV a0 = Start(bias, o0), a1 = Start(bias, o0 + 1), a2 = Start(bias, o0 + 2), a3 = Start(bias, o0 + 3);
        TV a4 = Start(bias, o0 + 4), a5 = Live<RM>(5, bias, o0), a6 = Live<RM>(6, bias, o0), a7 = Live<RM>(7, bias, o0);
        TV e0 = a0, e1 = a1, e2 = a2, e3 = a3, e4 = a4, e5 = a5, e6 = a6, e7 = a7;
        TV f0 = a0, f1 = a1, f2 = a2, f3 = a3, f4 = a4, f5 = a5, f6 = a6, f7 = a7;
        float* origin = tile.Input + q0;
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
            if (RM.Value > 5) { k = S.Splat(wb[1]); a5 = S.Fma(k, u, a5); e5 = S.Fma(k, v, e5); f5 = S.Fma(k, z, f5); }
            if (RM.Value > 6) { k = S.Splat(wb[2]); a6 = S.Fma(k, u, a6); e6 = S.Fma(k, v, e6); f6 = S.Fma(k, z, f6); }
            if (RM.Value > 7) { k = S.Splat(wb[3]); a7 = S.Fma(k, u, a7); e7 = S.Fma(k, v, e7); f7 = S.Fma(k, z, f7); }
        }
        long pitch = tile.Pitch, at0 = o0 * pitch + q0;
        Store(tile, at0, a0, e0, f0);
        Store(tile, at0 + pitch, a1, e1, f1);
        Store(tile, at0 + 2 * pitch, a2, e2, f2);
        Store(tile, at0 + 3 * pitch, a3, e3, f3);
        Store(tile, at0 + 4 * pitch, a4, e4, f4);
        if (RM.Value > 5) Store(tile, at0 + 5 * pitch, a5, e5, f5);
        if (RM.Value > 6) Store(tile, at0 + 6 * pitch, a6, e6, f6);
        if (RM.Value > 7) Store(tile, at0 + 7 * pitch, a7, e7, f7);
    }

    /// <summary>The starting accumulator of row <paramref name="row"/> of an <typeparamref name="RM"/>-row tile: zero (and unused) past its rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Live<RM>(int row, float* bias, int o0) where RM : struct, IRowCount => RM.Value > row ? Start(bias, o0 + row) : S.Zero;

    /// <summary><see cref="Tile8x3"/> two vectors wide (16 accumulators), for a tail of two vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8x2<RM>(in Tile tile, int o0, int q0) where RM : struct, IRowCount
    {
        int taps = tile.Taps, lanes = S.Count;
        int* offsets = tile.Offsets;
        float* bias = tile.Bias;
        float* wa = tile.W + (long)o0 * taps, wb = wa + (long)taps * R;
        TV a0 = Start(bias, o0), a1 = Start(bias, o0 + 1), a2 = Start(bias, o0 + 2), a3 = Start(bias, o0 + 3);
        TV a4 = Start(bias, o0 + 4), a5 = Live<RM>(5, bias, o0), a6 = Live<RM>(6, bias, o0), a7 = Live<RM>(7, bias, o0);
        TV e0 = a0, e1 = a1, e2 = a2, e3 = a3, e4 = a4, e5 = a5, e6 = a6, e7 = a7;
        float* origin = tile.Input + q0;
        for (int t = 0; t < taps; t++, wa += R, wb += R)
        {
            float* at = origin + offsets[t];
            TV u = S.Load(at), v = S.Load(at + lanes);
            TV k = S.Splat(wa[0]); a0 = S.Fma(k, u, a0); e0 = S.Fma(k, v, e0);
            k = S.Splat(wa[1]); a1 = S.Fma(k, u, a1); e1 = S.Fma(k, v, e1);
            k = S.Splat(wa[2]); a2 = S.Fma(k, u, a2); e2 = S.Fma(k, v, e2);
            k = S.Splat(wa[3]); a3 = S.Fma(k, u, a3); e3 = S.Fma(k, v, e3);
            k = S.Splat(wb[0]); a4 = S.Fma(k, u, a4); e4 = S.Fma(k, v, e4);
            if (RM.Value > 5) { k = S.Splat(wb[1]); a5 = S.Fma(k, u, a5); e5 = S.Fma(k, v, e5); }
            if (RM.Value > 6) { k = S.Splat(wb[2]); a6 = S.Fma(k, u, a6); e6 = S.Fma(k, v, e6); }
            if (RM.Value > 7) { k = S.Splat(wb[3]); a7 = S.Fma(k, u, a7); e7 = S.Fma(k, v, e7); }
        }
        long pitch = tile.Pitch, at0 = o0 * pitch + q0;
        int n = S.Count;
        Store(tile, at0, n, a0); Store(tile, at0 + lanes, n, e0);
        Store(tile, at0 + pitch, n, a1); Store(tile, at0 + pitch + lanes, n, e1);
        Store(tile, at0 + 2 * pitch, n, a2); Store(tile, at0 + 2 * pitch + lanes, n, e2);
        Store(tile, at0 + 3 * pitch, n, a3); Store(tile, at0 + 3 * pitch + lanes, n, e3);
        Store(tile, at0 + 4 * pitch, n, a4); Store(tile, at0 + 4 * pitch + lanes, n, e4);
        if (RM.Value > 5) { Store(tile, at0 + 5 * pitch, n, a5); Store(tile, at0 + 5 * pitch + lanes, n, e5); }
        if (RM.Value > 6) { Store(tile, at0 + 6 * pitch, n, a6); Store(tile, at0 + 6 * pitch + lanes, n, e6); }
        if (RM.Value > 7) { Store(tile, at0 + 7 * pitch, n, a7); Store(tile, at0 + 7 * pitch + lanes, n, e7); }
    }

    /// <summary><see cref="Tile8x3"/> for one vector of positions, stored masked when the chunk ends inside it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Column8<RM>(in Tile tile, int o0, int q0) where RM : struct, IRowCount
    {
        int taps = tile.Taps;
        int* offsets = tile.Offsets;
        float* bias = tile.Bias, origin = tile.Input + q0;
        TV a0 = Start(bias, o0), a1 = Start(bias, o0 + 1), a2 = Start(bias, o0 + 2), a3 = Start(bias, o0 + 3);
        TV a4 = Start(bias, o0 + 4), a5 = Live<RM>(5, bias, o0), a6 = Live<RM>(6, bias, o0), a7 = Live<RM>(7, bias, o0);
        float* wa = tile.W + (long)o0 * taps, wb = wa + (long)taps * R;
        for (int t = 0; t < taps; t++, wa += R, wb += R)
        {
            TV u = S.Load(origin + offsets[t]);
            a0 = S.Fma(S.Splat(wa[0]), u, a0); a1 = S.Fma(S.Splat(wa[1]), u, a1);
            a2 = S.Fma(S.Splat(wa[2]), u, a2); a3 = S.Fma(S.Splat(wa[3]), u, a3);
            a4 = S.Fma(S.Splat(wb[0]), u, a4);
            if (RM.Value > 5) a5 = S.Fma(S.Splat(wb[1]), u, a5);
            if (RM.Value > 6) a6 = S.Fma(S.Splat(wb[2]), u, a6);
            if (RM.Value > 7) a7 = S.Fma(S.Splat(wb[3]), u, a7);
        }
        int n = Math.Min(S.Count, tile.Count - q0);
        long pitch = tile.Pitch, at = o0 * pitch + q0;
        Store(tile, at, n, a0); Store(tile, at + pitch, n, a1); Store(tile, at + 2 * pitch, n, a2); Store(tile, at + 3 * pitch, n, a3);
        Store(tile, at + 4 * pitch, n, a4);
        if (RM.Value > 5) Store(tile, at + 5 * pitch, n, a5);
        if (RM.Value > 6) Store(tile, at + 6 * pitch, n, a6);
        if (RM.Value > 7) Store(tile, at + 7 * pitch, n, a7);
    }

    /// <summary>
    /// Output channels [o0, o0 + rows) at every position of the chunk, R x V vectors per register tile; the tail as in
    /// <see cref="Block8"/>, one-vector tiles ending at the last position.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(in Tile tile, int o0, int rows)
    {
        int lanes = S.Count, count = tile.Count, q0 = 0;
        for (; q0 + V * lanes <= count; q0 += V * lanes) Tile4x3(tile, o0, rows, q0);
        int vectors = (count - q0 + lanes - 1) / lanes, last = count - vectors * lanes;
        if (vectors == 0) return;
        if (last < 0)
            for (; q0 < count; q0 += lanes) Column4(tile, o0, rows, q0);
        else if (vectors == 3) Tile4x3(tile, o0, rows, last);
        else
            for (int v = 0; v < vectors; v++) Column4(tile, o0, rows, last + v * lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x3(in Tile tile, int o0, int rows, int q0)
    {
        int taps = tile.Taps, lanes = S.Count;
        int* offsets = tile.Offsets;
        // Channels missing from the last block have zero weights (packed so) and are not stored.
        TV a0 = Start(tile.Bias, o0), a1 = Start(tile.Bias, o0, rows, 1), a2 = Start(tile.Bias, o0, rows, 2), a3 = Start(tile.Bias, o0, rows, 3);
        TV e0 = a0, e1 = a1, e2 = a2, e3 = a3;
        TV f0 = a0, f1 = a1, f2 = a2, f3 = a3;
        float* origin = tile.Input + q0;
        float* wt = tile.W + (long)o0 * taps;
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
        long pitch = tile.Pitch, at0 = o0 * pitch + q0;
        Store(tile, at0, a0, e0, f0);
        if (rows > 1) Store(tile, at0 + pitch, a1, e1, f1);
        if (rows > 2) Store(tile, at0 + 2 * pitch, a2, e2, f2);
        if (rows > 3) Store(tile, at0 + 3 * pitch, a3, e3, f3);
    }

    /// <summary><see cref="Tile4x3"/> for one vector of positions, stored masked when the chunk ends inside it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Column4(in Tile tile, int o0, int rows, int q0)
    {
        int taps = tile.Taps;
        int* offsets = tile.Offsets;
        float* origin = tile.Input + q0;
        TV a0 = Start(tile.Bias, o0), a1 = Start(tile.Bias, o0, rows, 1), a2 = Start(tile.Bias, o0, rows, 2), a3 = Start(tile.Bias, o0, rows, 3);
        float* wt = tile.W + (long)o0 * taps;
        for (int t = 0; t < taps; t++, wt += R)
        {
            TV u = S.Load(origin + offsets[t]);
            a0 = S.Fma(S.Splat(wt[0]), u, a0); a1 = S.Fma(S.Splat(wt[1]), u, a1);
            a2 = S.Fma(S.Splat(wt[2]), u, a2); a3 = S.Fma(S.Splat(wt[3]), u, a3);
        }
        int n = Math.Min(S.Count, tile.Count - q0);
        long pitch = tile.Pitch, at = o0 * pitch + q0;
        Store(tile, at, n, a0);
        if (rows > 1) Store(tile, at + pitch, n, a1);
        if (rows > 2) Store(tile, at + 2 * pitch, n, a2);
        if (rows > 3) Store(tile, at + 3 * pitch, n, a3);
    }

    /// <summary>The bias of channel o0 + r of a block of <paramref name="rows"/> channels (zero past the block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Start(float* bias, int o0, int rows, int r) => r < rows ? Start(bias, o0 + r) : S.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Start(float* bias, int o) => S.Splat(bias is null ? 0 : bias[o]);

    /// <summary>The first <paramref name="n"/> lanes of one vector at output offset <paramref name="at"/>: plus the residual, then the ReLU.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(in Tile tile, long at, int n, TV a)
    {
        if (tile.Residual is not null) a = S.Add(a, n == S.Count ? S.Load(tile.Residual + at) : S.LoadFirst(tile.Residual + at, n));
        if (tile.Relu) a = S.Max(a, S.Zero);
        if (n == S.Count) S.Store(a, tile.Output + at);
        else S.StoreFirst(a, tile.Output + at, n);
    }

    /// <summary>
    /// Three vectors at output offset <paramref name="at"/>: plus the residual, then through max(v, 0) for the fused
    /// ReLU (IEEE maximum keeps NaN, as relu does).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(in Tile tile, long at, TV a, TV e, TV f)
    {
        int lanes = S.Count;
        if (tile.Residual is not null)
        {
            float* r = tile.Residual + at;
            a = S.Add(a, S.Load(r)); e = S.Add(e, S.Load(r + lanes)); f = S.Add(f, S.Load(r + 2 * lanes));
        }
        if (tile.Relu)
        {
            TV zero = S.Zero;
            a = S.Max(a, zero); e = S.Max(e, zero); f = S.Max(f, zero);
        }
        float* dst = tile.Output + at;
        S.Store(a, dst);
        S.Store(e, dst + lanes);
        S.Store(f, dst + 2 * lanes);
    }

    public static void BackwardWeight(float* x, float* gy, float* gw, ConvGeometry g, int maxParts)
    {
        long size = (long)g.OutChannels * g.K;
        new Span<float>(gw, checked((int)size)).Clear();
        if (g.Batch == 0) return;
        // Chunks no larger than a part's share of the batch, so that every part has images: a batch that fits one
        // cache-sized chunk (LeNet-5's second layer at batch 64) had run on one thread.
        int nb = Math.Min(FlatLayout.WeightChunkImages(g), (g.Batch + maxParts - 1) / maxParts);
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
            var largest = new FlatLayout(g, Math.Min(nb, g.Batch), S.Count, sideBySide: true);
            int* offsets = stackalloc int[g.KernelH * g.KernelW];
            fixed (float* input = DirectConv.Scratch(ref t_input, (long)g.InChannels * largest.Planes * largest.ChannelLength),
                   grad = DirectConv.Scratch(ref t_output, (long)g.OutChannels * largest.Positions))
            {
                for (int chunk = part; chunk < chunks; chunk += parts)
                {
                    int n0 = chunk * nb;
                    var layout = new FlatLayout(g, Math.Min(nb, g.Batch - n0), S.Count, sideBySide: true);
                    layout.Fill<TV, S>(PlaneView.Nchw(x, g.InChannels, g.InH, g.InW), g.InChannels, n0, g, input);
                    layout.FillOutput<TV, S>(gy, g.OutChannels, n0, g, grad);
                    int taps = g.KernelH * g.KernelW;
                    if (g.KernelH == 3 && g.KernelW == 3 && g.UnitStride && SimdWidth.VectorRegisters >= 32)
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
                    // Where each tap of channel 0 reads (a phase plane at a shift when strided); channel c reads c planes on.
                    layout.TapOffsets(g with { InChannels = 1 }, offsets);
                    for (int tap = 0; tap < taps; tap++)
                        for (int o0 = 0; o0 < g.OutChannels; o0 += R)
                            for (int c0 = 0; c0 < g.InChannels; c0 += V)
                                TapBlock(grad, input + offsets[tap], acc, o0, c0, tap, taps, layout, g);
                }
            }
        }
    }

    /// <summary>acc[o, c, tap] += dot(gy[o], input[c] shifted by the tap) for R output x V input channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TapBlock(float* grad, float* shifted, float* acc, int o0, int c0, int tap, int taps, in FlatLayout layout, in ConvGeometry g)
    {
        int rows = Math.Min(R, g.OutChannels - o0), cols = Math.Min(V, g.InChannels - c0);
        int positions = layout.Positions, lanes = S.Count;
        long length = (long)layout.Planes * layout.ChannelLength; // from one input channel to the next
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
