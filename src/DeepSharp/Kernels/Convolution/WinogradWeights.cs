using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace DeepSharp.Kernels;

/// <summary>One Winograd tile size's weight transforms, for one channel pair's 3x3 kernel.</summary>
internal unsafe interface IWinogradWeights
{
    /// <summary>Elements of a transformed kernel: 16 for F(2x2, 3x3), 36 for F(4x4, 3x3).</summary>
    static abstract int Elements { get; }

    /// <summary>u = G k G^T of the 3x3 kernel k, element xi at u + xi * stride, in double, each element rounded once.</summary>
    static abstract void Transform(float* k, float* u, long stride);

    /// <summary>k = G^T u G (3x3) from a channel pair's <see cref="Elements"/> element sums u, in double.</summary>
    static abstract void FromSums(double* u, float* k);
}

/// <summary>
/// The weight transforms of <see cref="WinogradConv"/> and <see cref="Winograd4x4"/> over all channel pairs, split over
/// the worker pool by ranges of pairs (each pair's arithmetic is the same whatever the split). They ran on the calling
/// thread alone once per pass and layer while the other threads waited: 5.4 % of the cnn model's training time on its
/// main thread with two threads.
/// </summary>
internal static unsafe class WinogradWeights
{
    // Channel pairs below which a transform stays on the calling thread (a few µs; a hand-off costs about as much).
    private const int PoolFromPairs = 1024;

    /// <summary>
    /// U = G w G^T for every (o, c) of w [O, C, 3, 3] as T.Elements weight sets [O, C], element xi packed for the flat
    /// kernel's tiles (the layout of <see cref="FlatConv.PackWeights(float*, float*, int, int)"/>, written directly) at packed + xi * stride.
    /// </summary>
    public static void Transform<T>(float* w, float* packed, int outChannels, int inChannels, int stride) where T : IWinogradWeights
    {
        int blocks = ConvGeometry.CeilDiv(outChannels, FlatConv.Rows);
        var job = new TransformJob<T>(w, packed, outChannels, inChannels, stride, blocks);
        Run(job, blocks, (long)outChannels * inChannels);
    }

    /// <summary>
    /// gw [O, C, 3, 3] (overwritten) = G^T dU G for every (o, c), where dU is the sum of <paramref name="parts"/> partial
    /// sums [part][T.Elements][O * C] added in order of part.
    /// </summary>
    public static void FromSums<T>(float* partials, int parts, float* gw, long plane) where T : IWinogradWeights
    {
        var job = new FromSumsJob<T>(partials, parts, gw, plane);
        Run(job, (int)Math.Min(plane, int.MaxValue), plane);
    }

    /// <summary>
    /// Floats from one element's packed weight set to the next: the packed length and one cache line more. At a multiple
    /// of 4 KiB apart (32 x 32 channels), the elements a pair's transform stores fall in one L1 set and evict each other.
    /// </summary>
    public static int SetStride(int outChannels, int inChannels) => FlatConv.PackedLength(outChannels, inChannels) + 16;

    private static void Run(IRangeJob job, int units, long pairs)
    {
        int parts = pairs < PoolFromPairs ? 1 : Math.Min(WorkerPool.Threads, units);
        job.Parts = parts;
        if (parts == 1) job.Run(0);
        else WorkerPool.For(parts, job);
    }

    private interface IRangeJob : IParallelTask
    {
        int Parts { set; }
    }

    /// <summary>Blocks of FlatConv.Rows output channels per part; rows past the last channel are zeros, as PackWeights writes them.</summary>
    private sealed class TransformJob<T>(float* w, float* packed, int outChannels, int inChannels, int stride, int blocks) : IRangeJob where T : IWinogradWeights
    {
        public int Parts { private get; set; } = 1;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int part)
        {
            const int Rows = FlatConv.Rows;
            int elements = T.Elements, b0 = (int)((long)part * blocks / Parts), b1 = (int)((long)(part + 1) * blocks / Parts);
            for (int b = b0; b < b1; b++)
                for (int r = 0; r < Rows; r++)
                {
                    int o = b * Rows + r;
                    float* dst = packed + (long)b * inChannels * Rows + r;
                    for (int c = 0; c < inChannels; c++)
                    {
                        if (o < outChannels) T.Transform(w + ((long)o * inChannels + c) * 9, dst + c * Rows, stride);
                        else
                            for (int xi = 0; xi < elements; xi++) dst[xi * (long)stride + c * Rows] = 0;
                    }
                }
        }
    }

    /// <summary>
    /// Ranges of channel pairs per part, a block of pairs at a time: each element's partial sums are added in part order
    /// into a buffer (contiguous runs, not one stream per element and part: 144 of them for F(4x4)), then transformed.
    /// </summary>
    private sealed class FromSumsJob<T>(float* partials, int parts, float* gw, long plane) : IRangeJob where T : IWinogradWeights
    {
        private const int Block = 64;

        public int Parts { private get; set; } = 1;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int part)
        {
            int elements = T.Elements;
            long size = elements * plane, p0 = part * plane / Parts, p1 = (part + 1) * plane / Parts;
            float* sums = stackalloc float[elements * Block];
            double* u = stackalloc double[elements];
            for (long b0 = p0; b0 < p1; b0 += Block)
            {
                int n = (int)Math.Min(Block, p1 - b0);
                for (int xi = 0; xi < elements; xi++)
                {
                    var sum = new Span<float>(sums + xi * Block, n);
                    float* at = partials + xi * plane + b0;
                    new ReadOnlySpan<float>(at, n).CopyTo(sum);
                    for (int q = 1; q < parts; q++) TensorPrimitives.Add(sum, new ReadOnlySpan<float>(at + q * size, n), sum); // in part order, as any thread count adds them
                }
                for (int j = 0; j < n; j++)
                {
                    for (int xi = 0; xi < elements; xi++) u[xi] = sums[xi * Block + j];
                    T.FromSums(u, gw + (b0 + j) * 9);
                }
            }
        }
    }
}
