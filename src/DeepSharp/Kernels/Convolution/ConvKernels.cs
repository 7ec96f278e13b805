using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// 2-D convolution as tiled im2col + GEMM (NCHW, grouped). Images are processed in chunks whose
/// unfolded block stays cache-sized; chunks are spread over the worker pool, each with its own
/// scratch, and the GEMMs inside a chunk then run single-threaded. With one chunk (one big image)
/// the GEMM parallelises itself instead. A 1x1, stride-1, unpadded convolution skips the unfolding only
/// when its chunk holds a single image (the image is then its own column matrix); a chunk of several
/// images is still gathered into one block so that a single GEMM covers them all.
/// </summary>
internal static unsafe class ConvKernels
{
    /// <summary>
    /// y[n, o, p] = sum_k w[o, k] col[k, p] + bias[o], then max(y, 0) when <paramref name="relu"/> (the inference
    /// path's fused activation, applied while each chunk's output is still in cache). bias may be null.
    /// </summary>
    public static void Forward<T>(T* x, T* w, T* bias, T* y, ConvGeometry g, bool relu = false) where T : unmanaged, INumber<T>
    {
        if (DirectConv.Applies<T>(g)) DirectConv.Forward((float*)x, (float*)w, (float*)bias, (float*)y, g, relu);
        else if (WinogradConv.Applies<T>(g)) WinogradConv.Forward((float*)x, (float*)w, (float*)bias, (float*)y, g, relu);
        else if (FlatConv.AppliesForward<T>(g)) FlatConv.Forward((float*)x, (float*)w, (float*)bias, (float*)y, g, relu);
        else RunChunks(g, new ForwardTask<T>(x, w, bias, y, g, relu));
    }

    /// <summary>
    /// The weights of a float32 convolution laid out once for the kernel <see cref="Forward{T}"/> picks for
    /// <paramref name="g"/> (whatever the batch), or null when that kernel reads them as they are.
    /// </summary>
    public static float[]? PackForward(float* w, in ConvGeometry g) =>
        !DirectConv.Applies<float>(g) && FlatConv.AppliesForward<float>(g) ? FlatConv.PackWeights(w, g) : null;

    /// <summary>
    /// <see cref="Forward{T}"/> with weights from <see cref="PackForward"/> (null: <paramref name="w"/> as it is).
    /// With <paramref name="residual"/> (only with packed weights), y = conv + residual, then the ReLU; with packed
    /// weights x, y and the residual can also be flat (<paramref name="xs"/>, <paramref name="ys"/>, <paramref name="rs"/>; see <see cref="FlatShape"/>).
    /// </summary>
    public static void ForwardPrepacked(float* x, float* w, float* packed, float* bias, float* y, ConvGeometry g, bool relu, float* residual = null,
        FlatShape? xs = null, FlatShape? ys = null, FlatShape? rs = null)
    {
        if (packed is null && (residual is not null || xs is not null || ys is not null))
            throw new ArgumentException("ConvKernels: residuals and flat layouts are taken only by the flat kernel (packed weights)");
        if (packed is null) Forward(x, w, bias, y, g, relu);
        else FlatConv.ForwardPacked(x, packed, bias, y, g, relu, residual, xs, ys, rs);
    }

    /// <summary>gx = fold(w^T gy); gx is fully overwritten.</summary>
    public static void BackwardInput<T>(T* gy, T* w, T* gx, ConvGeometry g) where T : unmanaged, INumber<T>
    {
        if (AsForward(g) is { } flipped)
        {
            BackwardInputAsForward(gy, w, gx, g, flipped);
            return;
        }
        new Span<T>(gx, checked(g.Batch * g.InChannels * g.InPlane)).Clear();
        RunChunks(g, new BackwardInputTask<T>(gy, w, gx, g));
    }

    /// <summary>
    /// For a stride-1, undilated, ungrouped convolution whose padding is at most kernel - 1, the input gradient is
    /// itself a convolution: gy (O channels) with the weights flipped in space and transposed to [C, O, kh, kw], padded
    /// by kernel - 1 - padding. Written as one, it unfolds gy and writes gx once instead of scatter-adding every tap of
    /// the column block into gx (col2im), and it can take the direct kernel. Null for other shapes.
    /// </summary>
    internal static ConvGeometry? AsForward(in ConvGeometry g) =>
        g.UnitStride && g.DilationH == 1 && g.DilationW == 1 && g.Groups == 1 &&
        g.PadH <= g.KernelH - 1 && g.PadW <= g.KernelW - 1 && !g.IsPointwise
            ? new ConvGeometry(g.Batch, g.OutChannels, g.OutH, g.OutW, g.InChannels, g.KernelH, g.KernelW,
                1, 1, g.KernelH - 1 - g.PadH, g.KernelW - 1 - g.PadW, 1, 1, 1)
            : null;

    private static void BackwardInputAsForward<T>(T* gy, T* w, T* gx, in ConvGeometry g, ConvGeometry flipped) where T : unmanaged, INumber<T>
    {
        int o = g.OutChannels, c = g.InChannels, kh = g.KernelH, kw = g.KernelW, taps = kh * kw;
        var rotated = ArrayPool<T>.Shared.Rent(o * c * taps);
        try
        {
            fixed (T* wr = rotated)
            {
                // wr[ci, oi, ky, kx] = w[oi, ci, kh-1-ky, kw-1-kx]
                for (int oi = 0; oi < o; oi++)
                    for (int ci = 0; ci < c; ci++)
                    {
                        T* src = w + ((long)oi * c + ci) * taps;
                        T* dst = wr + ((long)ci * o + oi) * taps;
                        for (int t = 0; t < taps; t++) dst[t] = src[taps - 1 - t];
                    }
                Forward(gy, wr, (T*)null, gx, flipped);
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(rotated);
        }
    }

    /// <summary>
    /// gw = sum over images of gy col^T (overwritten). The bias gradient is not computed here: the
    /// convolution's backward node takes it as the sum of gy over images and positions.
    /// </summary>
    public static void BackwardWeight<T>(T* x, T* gy, T* gw, ConvGeometry g) where T : unmanaged, INumber<T>
    {
        if (DirectConv.Applies<T>(g))
            DirectConv.BackwardWeight((float*)x, (float*)gy, (float*)gw, g, Math.Min(g.Batch, DeterministicParts));
        else if (WinogradConv.Applies<T>(g))
            WinogradConv.BackwardWeight((float*)x, (float*)gy, (float*)gw, g, DeterministicParts);
        else if (FlatConv.Applies<T>(g))
            FlatConv.BackwardWeight((float*)x, (float*)gy, (float*)gw, g, DeterministicParts);
        else
            BackwardWeightIm2Col(x, gy, gw, g);
    }

    private static void BackwardWeightIm2Col<T>(T* x, T* gy, T* gw, ConvGeometry g) where T : unmanaged, INumber<T>
    {
        int weightSize = g.OutChannels * g.K;
        int chunks = ChunkCount(g);
        // A fixed number of partial sums, independent of the thread count, so results are bit-identical
        // whatever WorkerPool.Threads is (the partials are then added in a fixed order).
        int parts = Math.Min(chunks, DeterministicParts);
        var partials = ArrayPool<T>.Shared.Rent(parts * weightSize);
        try
        {
            fixed (T* acc = partials)
            {
                var task = new BackwardWeightTask<T>(x, gy, acc, weightSize, parts, g);
                WorkerPool.For(parts, task);
                var total = new Span<T>(acc, weightSize);
                for (int t = 1; t < parts; t++)
                    TensorPrimitives.Add(total, new ReadOnlySpan<T>(acc + (long)t * weightSize, weightSize), total);
                // The partials hold gw^T per group ([K, O/groups]); gw is [O/groups, K] per group.
                int og = g.GroupOut, k = g.K;
                for (int gi = 0; gi < g.Groups; gi++)
                {
                    T* src = acc + (long)gi * og * k, dst = gw + (long)gi * og * k;
                    for (int r = 0; r < k; r++)
                        for (int o = 0; o < og; o++)
                            dst[o * k + r] = src[r * og + o];
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(partials);
        }
    }

    private const int DeterministicParts = 4;

    private static int ChunkCount(in ConvGeometry g) => (g.Batch + g.ChunkImages - 1) / g.ChunkImages;

    private static void RunChunks(in ConvGeometry g, IParallelTask task)
    {
        int chunks = ChunkCount(g);
        if (chunks == 1) task.Run(0);          // the GEMM itself may use the pool
        else WorkerPool.For(chunks, task);
    }

    /// <summary>Copies rows [o0, o0+rows) of each image in the chunk between NCHW layout and a [rows, nb*P] block.</summary>
    private static void Gather<T>(T* src, int channels, int o0, int rows, int n0, int nb, int p, T* block) where T : unmanaged
    {
        for (int j = 0; j < nb; j++)
            for (int o = 0; o < rows; o++)
                new ReadOnlySpan<T>(src + ((long)(n0 + j) * channels + o0 + o) * p, p).CopyTo(new Span<T>(block + (long)o * nb * p + j * p, p));
    }

    private static void Scatter<T>(T* block, int channels, int o0, int rows, int n0, int nb, int p, T* dst) where T : unmanaged
    {
        for (int j = 0; j < nb; j++)
            for (int o = 0; o < rows; o++)
                new ReadOnlySpan<T>(block + (long)o * nb * p + j * p, p).CopyTo(new Span<T>(dst + ((long)(n0 + j) * channels + o0 + o) * p, p));
    }

    /// <summary>Unfolds the group's channels of images [n0, n0+nb) into col [K, nb*P].</summary>
    private static void UnfoldChunk<T>(T* x, in ConvGeometry g, int group, int n0, int nb, T* col) where T : unmanaged, INumber<T>
    {
        int imageSize = g.InChannels * g.InPlane;
        var colSpan = new Span<T>(col, g.K * nb * g.P);
        for (int j = 0; j < nb; j++)
            Im2Col.Unfold(new ReadOnlySpan<T>(x + (long)(n0 + j) * imageSize, imageSize), g, group * g.GroupIn, g.GroupIn, colSpan, nb * g.P, j * g.P);
    }

    private static void Gemm<T>(bool ta, bool tb, int m, int n, int k, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc) where T : unmanaged, INumber<T> =>
        Kernels.Gemm.Run("conv", ta, tb, m, n, k, T.One, a, lda, b, ldb, beta, c, ldc);

    private sealed class ForwardTask<T>(T* x, T* w, T* bias, T* y, ConvGeometry g, bool relu) : IParallelTask where T : unmanaged, INumber<T>
    {
        public void Run(int chunk)
        {
            int n0 = chunk * g.ChunkImages, nb = Math.Min(g.ChunkImages, g.Batch - n0);
            int p = g.P, k = g.K, og = g.GroupOut;
            bool direct = g.IsPointwise && nb == 1;
            var col = direct ? null : ArrayPool<T>.Shared.Rent(k * nb * p);
            var tmp = nb == 1 ? null : ArrayPool<T>.Shared.Rent(og * nb * p);
            try
            {
                fixed (T* pc = col, pt = tmp)
                {
                    for (int gi = 0; gi < g.Groups; gi++)
                    {
                        T* wg = w + (long)gi * og * k;
                        T* b = direct ? x + ((long)n0 * g.InChannels + gi * g.GroupIn) * g.InPlane : pc;
                        if (!direct) UnfoldChunk(x, g, gi, n0, nb, pc);
                        T* outBlock = nb == 1 ? y + ((long)n0 * g.OutChannels + gi * og) * p : pt;
                        Gemm(false, false, og, nb * p, k, wg, k, b, nb * p, T.Zero, outBlock, nb * p);
                        if (nb > 1) Scatter(pt, g.OutChannels, gi * og, og, n0, nb, p, y);
                    }
                    if (bias is not null || relu)
                        for (int j = 0; j < nb; j++)
                            for (int o = 0; o < g.OutChannels; o++)
                            {
                                var row = new Span<T>(y + ((long)(n0 + j) * g.OutChannels + o) * p, p);
                                if (bias is not null) TensorPrimitives.Add(row, bias[o], row);
                                if (relu) TensorPrimitives.Max(row, T.Zero, row); // NaN stays NaN, as relu
                            }
                }
            }
            finally
            {
                if (col is not null) ArrayPool<T>.Shared.Return(col);
                if (tmp is not null) ArrayPool<T>.Shared.Return(tmp);
            }
        }
    }

    private sealed class BackwardInputTask<T>(T* gy, T* w, T* gx, ConvGeometry g) : IParallelTask where T : unmanaged, INumber<T>
    {
        public void Run(int chunk)
        {
            int n0 = chunk * g.ChunkImages, nb = Math.Min(g.ChunkImages, g.Batch - n0);
            int p = g.P, k = g.K, og = g.GroupOut;
            bool direct = g.IsPointwise && nb == 1;
            var col = direct ? null : ArrayPool<T>.Shared.Rent(k * nb * p);
            var tmp = nb == 1 ? null : ArrayPool<T>.Shared.Rent(og * nb * p);
            try
            {
                fixed (T* pc = col, pt = tmp)
                {
                    int imageSize = g.InChannels * g.InPlane;
                    for (int gi = 0; gi < g.Groups; gi++)
                    {
                        T* wg = w + (long)gi * og * k;
                        T* gyBlock = gy + ((long)n0 * g.OutChannels + gi * og) * p;
                        if (nb > 1)
                        {
                            Gather(gy, g.OutChannels, gi * og, og, n0, nb, p, pt);
                            gyBlock = pt;
                        }
                        T* target = direct ? gx + ((long)n0 * g.InChannels + gi * g.GroupIn) * g.InPlane : pc;
                        Gemm(true, false, k, nb * p, og, wg, k, gyBlock, nb * p, T.Zero, target, nb * p);
                        if (direct) continue;
                        var colSpan = new ReadOnlySpan<T>(pc, k * nb * p);
                        for (int j = 0; j < nb; j++)
                            Im2Col.Fold(colSpan, nb * p, j * p, g, gi * g.GroupIn, g.GroupIn, new Span<T>(gx + (long)(n0 + j) * imageSize, imageSize));
                    }
                }
            }
            finally
            {
                if (col is not null) ArrayPool<T>.Shared.Return(col);
                if (tmp is not null) ArrayPool<T>.Shared.Return(tmp);
            }
        }
    }

    /// <summary>
    /// Part t accumulates gw^T = col gy^T over chunks t, t+parts, ... into its own partial buffer. The transposed
    /// product has the long dimension (positions) as the GEMM's k with both operands contiguous along it, and the
    /// few output channels as n, which the unpacked GEMM handles as dot products without packing.
    /// </summary>
    private sealed class BackwardWeightTask<T>(T* x, T* gy, T* partials, int weightSize, int parts, ConvGeometry g) : IParallelTask
        where T : unmanaged, INumber<T>
    {
        public void Run(int part)
        {
            T* acc = partials + (long)part * weightSize;
            new Span<T>(acc, weightSize).Clear();
            int p = g.P, k = g.K, og = g.GroupOut;
            int chunks = ChunkCount(g);
            int nbMax = Math.Min(g.ChunkImages, g.Batch);
            var col = ArrayPool<T>.Shared.Rent(k * nbMax * p);
            var tmp = ArrayPool<T>.Shared.Rent(og * nbMax * p);
            try
            {
                fixed (T* pc = col, pt = tmp)
                {
                    for (int chunk = part; chunk < chunks; chunk += parts)
                    {
                        int n0 = chunk * g.ChunkImages, nb = Math.Min(g.ChunkImages, g.Batch - n0);
                        bool direct = g.IsPointwise && nb == 1;
                        for (int gi = 0; gi < g.Groups; gi++)
                        {
                            T* gyBlock = gy + ((long)n0 * g.OutChannels + gi * og) * p;
                            if (nb > 1)
                            {
                                Gather(gy, g.OutChannels, gi * og, og, n0, nb, p, pt);
                                gyBlock = pt;
                            }
                            T* colBlock = direct ? x + ((long)n0 * g.InChannels + gi * g.GroupIn) * g.InPlane : pc;
                            if (!direct) UnfoldChunk(x, g, gi, n0, nb, pc);
                            Gemm(false, true, k, og, nb * p, colBlock, nb * p, gyBlock, nb * p, T.One, acc + (long)gi * og * k, og);
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(col);
                ArrayPool<T>.Shared.Return(tmp);
            }
        }
    }
}
