using System.Numerics;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// Row-major BLAS-style matrix multiply: C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, op(X) = X or X^T.
/// lda/ldb/ldc are the row strides of the matrices as stored: A is stored m x k (lda &gt;= k) or, when transA,
/// k x m (lda &gt;= m); likewise B. beta == 0 means C is write-only (its old contents, even NaN, are ignored);
/// k == 0 or alpha == 0 gives C = beta * C without reading A or B.
/// </summary>
internal static unsafe class Gemm
{
    // Below this many multiply-adds packing does not pay; the unpacked path is used.
    internal const long DirectThreshold = 32 * 32 * 32;

    // With this few rows of A, packing B costs more than it saves; B is read in place. Up to DirectMaxRowsL2
    // rows still pay when B fits in L2.
    private const int DirectMaxRows = 8;
    private const int DirectMaxRowsL2 = 64;
    private const int DirectMaxRowsTransB = 48;
    private const int DirectMaxDepth = 32;

    // Below this many multiply-adds a second thread costs more (hand-off ~1-2 µs, wake-up more) than it saves.
    internal static long ParallelThreshold = 96L * 96 * 96;

    // A matrix-vector product streams its whole matrix once, so it is bound by memory (L2) bandwidth, not
    // arithmetic: from this many elements (512 KB of float32) splitting it over cores' caches pays.
    internal static long GemvParallelThreshold = 128L * 1024;

    // From this many multiply-adds (~80 µs on one core) a product is worth waking napping workers for
    // (8-60 µs for the caller); smaller ones use only workers that are already awake.
    internal static long WakeThreshold = 8L << 20;

    internal static bool WakeWorkersFor(long work) => work >= WakeThreshold;

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda,
        float* b, int ldb, float beta, float* c, int ldc) =>
        Run("sgemm", transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    public static void Dgemm(bool transA, bool transB, int m, int n, int k, double alpha, double* a, int lda,
        double* b, int ldb, double beta, double* c, int ldc) =>
        Run("dgemm", transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda,
        ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        CheckSpans("sgemm", transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        fixed (float* pa = a, pb = b, pc = c)
            Run("sgemm", transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    }

    public static void Dgemm(bool transA, bool transB, int m, int n, int k, double alpha, ReadOnlySpan<double> a, int lda,
        ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc)
    {
        CheckSpans("dgemm", transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        fixed (double* pa = a, pb = b, pc = c)
            Run("dgemm", transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    }

    /// <summary>
    /// <paramref name="count"/> independent products; matrix i uses a + i*strideA, b + i*strideB, c + i*strideC
    /// (strideA or strideB may be 0 to broadcast one operand). Small products run in parallel across the batch,
    /// large ones one after another with each product parallelised inside.
    /// </summary>
    public static void SgemmBatched(int count, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, float* b, int ldb, long strideB, float beta, float* c, int ldc, long strideC) =>
        RunBatched("sgemm_batched", count, transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC);

    public static void DgemmBatched(int count, bool transA, bool transB, int m, int n, int k, double alpha,
        double* a, int lda, long strideA, double* b, int ldb, long strideB, double beta, double* c, int ldc, long strideC) =>
        RunBatched("dgemm_batched", count, transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC);

    internal static void Run<T>(string name, bool transA, bool transB, int m, int n, int k, T alpha, T* a, int lda,
        T* b, int ldb, T beta, T* c, int ldc) where T : unmanaged, INumber<T>
    {
        CheckShape(name, transA, transB, m, n, k, lda, ldb, ldc);
        int threads = WorkerPool.IsInParallelRegion ? 1 : WorkerPool.Threads;
        RunUnchecked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
    }

    internal static void RunUnchecked<T>(bool transA, bool transB, int m, int n, int k, T alpha, T* a, nint lda,
        T* b, nint ldb, T beta, T* c, nint ldc, int threads) where T : unmanaged, INumber<T>
    {
        if (m == 0 || n == 0)
            return;
        if (k == 0 || alpha == T.Zero)
        {
            for (int i = 0; i < m; i++)
                GemmDirect.Scale(c + i * ldc, n, beta);
            return;
        }
        threads = ThreadsFor(m, (long)m * n * k, threads);
        int width = SimdWidth.Current;
        if (UseDirect(transA, transB, m, n, k, sizeof(T), Math.Max(1, width / 8 / sizeof(T))))
            GemmDirect.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
        else
            RunPacked(width, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
    }

    // Small products stay on the calling thread; mid-sized ones use only workers already awake.
    private static int ThreadsFor(int m, long work, int threads)
    {
        if (work < ParallelThreshold && !(m == 1 && work >= GemvParallelThreshold))
            return 1;
        return WakeWorkersFor(work) ? threads : WorkerPool.ReadyThreads(threads);
    }

    /// <summary>
    /// op(B) [k, n] packed once for <see cref="Sgemm(int, float*, int, PackedB, float*, int, float, float*, int)"/>,
    /// in the layout of the packed kernel that runs at this process's vector width (an inference weight: packing B^T
    /// was an eighth of an MLP's batch-64 inference when done on every call). With <paramref name="pooled"/> the
    /// packing is a rented <see cref="BufferPool{T}"/> buffer, for a weight packed per call: give it back with
    /// <see cref="PackedB.Return"/>.
    /// </summary>
    public static PackedB PackB(bool transB, int n, int k, float* b, int ldb, bool pooled = false)
    {
        CheckShape("sgemm", false, transB, 1, n, k, Math.Max(k, 1), ldb, Math.Max(n, 1));
        int width = SimdWidth.Current;
        bool wide = SimdWidth.VectorRegisters >= 32;
        float[] data;
        switch (width)
        {
            case 512: data = Pack<PackedKernel<float, Vector512<float>, Simd512<float>, Rows12>>(transB, n, k, b, ldb, pooled); break;
            case 256 when wide: data = Pack<PackedKernel<float, Vector256<float>, Simd256<float>, Rows12>>(transB, n, k, b, ldb, pooled); break;
            case 256: data = Pack<PackedKernel<float, Vector256<float>, Simd256<float>, Rows6>>(transB, n, k, b, ldb, pooled); break;
            case 128 when wide: data = Pack<PackedKernel<float, Vector128<float>, Simd128<float>, Rows12>>(transB, n, k, b, ldb, pooled); break;
            case 128: data = Pack<PackedKernel<float, Vector128<float>, Simd128<float>, Rows6>>(transB, n, k, b, ldb, pooled); break;
            default: data = Pack<PackedKernel<float, float, Simd1<float>, Rows6>>(transB, n, k, b, ldb, pooled); break;
        }
        return new PackedB(data, transB, n, k, width, wide, pooled);

        static float[] Pack<K>(bool transB, int n, int k, float* b, int ldb, bool pooled) where K : struct, IGemmMicroKernel<float>
        {
            int length = checked((int)Math.Max(GemmDriver<float, K>.PackedLength(n, k), 1));
            var data = pooled ? BufferPool<float>.Rent(length) : new float[length];
            fixed (float* dst = data) GemmDriver<float, K>.PackB(transB, n, k, b, ldb, dst);
            return data;
        }
    }

    /// <summary>
    /// C = A op(B) + beta C, A as stored (m x k); B given both as stored (<paramref name="b"/>) and packed by
    /// <see cref="PackB"/>: the packed kernel reads the packed panels when it runs at the width they were packed for,
    /// the unpacked paths (few rows, another width) read <paramref name="b"/>.
    /// </summary>
    public static void Sgemm(int m, float* a, int lda, PackedB packed, float* b, int ldb, float beta, float* c, int ldc)
    {
        ArgumentNullException.ThrowIfNull(packed);
        int n = packed.N, k = packed.K, width = SimdWidth.Current;
        CheckShape("sgemm", false, packed.TransB, m, n, k, lda, ldb, ldc);
        int threads = WorkerPool.IsInParallelRegion ? 1 : WorkerPool.Threads;
        // With B packed already, the packed kernel wins unless its tiles of MR rows are mostly padding (MLP inference,
        // 256x784 B^T: dot products 14 µs at 2 rows vs 16 packed, 19 vs 17 at 4, 38-46 vs 25 at 8), the product is
        // tiny or narrower than a vector.
        int mr = SimdWidth.VectorRegisters >= 32 ? 12 : 6;
        bool direct = (long)m * n * k < DirectThreshold || 3 * m < mr || n < width / 32;
        if (direct || k == 0 || width != packed.Width || (SimdWidth.VectorRegisters >= 32) != packed.Wide)
        {
            RunUnchecked(false, packed.TransB, m, n, k, 1f, a, lda, b, ldb, beta, c, ldc, threads);
            return;
        }
        if (m == 0 || n == 0) return;
        threads = ThreadsFor(m, (long)m * n * k, threads);
        fixed (float* pb = packed.Data) RunPacked(width, false, packed.TransB, m, n, k, 1f, a, lda, b, ldb, beta, c, ldc, threads, pb);
    }

    // The micro-kernel for the width and register file: 12 x 2 vectors with 32 registers, 6 x 2 with 16.
    private static void RunPacked<T>(int width, bool transA, bool transB, int m, int n, int k, T alpha, T* a, nint lda,
        T* b, nint ldb, T beta, T* c, nint ldc, int threads, T* packedB = null) where T : unmanaged, INumber<T>
    {
        bool wide = SimdWidth.VectorRegisters >= 32;
        switch (width)
        {
            case 512:
                GemmDriver<T, PackedKernel<T, Vector512<T>, Simd512<T>, Rows12>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, packedB);
                break;
            case 256 when wide:
                GemmDriver<T, PackedKernel<T, Vector256<T>, Simd256<T>, Rows12>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, packedB);
                break;
            case 256:
                GemmDriver<T, PackedKernel<T, Vector256<T>, Simd256<T>, Rows6>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, packedB);
                break;
            case 128 when wide:
                GemmDriver<T, PackedKernel<T, Vector128<T>, Simd128<T>, Rows12>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, packedB);
                break;
            case 128:
                GemmDriver<T, PackedKernel<T, Vector128<T>, Simd128<T>, Rows6>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, packedB);
                break;
            default:
                GemmDriver<T, PackedKernel<T, T, Simd1<T>, Rows6>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, packedB);
                break;
        }
    }

    // The unpacked path wins for tiny products, GEMV shapes and few rows of A against a row-major B (its row
    // blocks read B in place); with B transposed it only has dot products, which pay for very few rows.
    private static bool UseDirect(bool transA, bool transB, int m, int n, int k, int elementSize, int lanes)
    {
        if ((long)m * n * k < DirectThreshold || m == 1 || n == 1)
            return true;
        if (n < lanes)
            return true; // fewer columns than a vector: dot products along k, or row blocks along m over A as stored
        // Dot products with 4 x 3 register tiles beat packing B^T up to about 48 rows (measured: 8x256x784 in
        // 30 us against 95 us packed, equal at 64 rows).
        if (transB)
            return m <= DirectMaxRowsTransB;
        // With a short k the packed kernel stores its C tile after a few steps; row blocks do as well unpacked.
        return m <= DirectMaxRows || k <= DirectMaxDepth || (!transA && m <= DirectMaxRowsL2 && (long)k * n * elementSize <= GemmBlocking.L2Bytes);
    }

    private static void RunBatched<T>(string name, int count, bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, long strideA, T* b, int ldb, long strideB, T beta, T* c, int ldc, long strideC)
        where T : unmanaged, INumber<T>
    {
        if (count < 0)
            throw new ArgumentException($"{name}: count must be >= 0 but is {count}");
        CheckShape(name, transA, transB, m, n, k, lda, ldb, ldc);
        if (count == 0 || m == 0 || n == 0)
            return;
        if (strideC == 0 && count > 1)
            throw new ArgumentException($"{name}: strideC is 0, so all {count} products would write the same C");
        int threads = WorkerPool.IsInParallelRegion ? 1 : WorkerPool.Threads;
        long work = (long)m * n * k;
        if (threads > 1 && count > 1 && work < BatchSplitThreshold)
        {
            BatchJob<T> job = BatchJob<T>.Take();
            job.TransA = transA; job.TransB = transB; job.M = m; job.N = n; job.K = k; job.Alpha = alpha; job.Beta = beta;
            job.A = a; job.Lda = lda; job.StrideA = strideA; job.B = b; job.Ldb = ldb; job.StrideB = strideB;
            job.C = c; job.Ldc = ldc; job.StrideC = strideC;
            try
            {
                WorkerPool.For(count, job, WakeWorkersFor(work * count));
            }
            finally
            {
                BatchJob<T>.Return(job);
            }
            return;
        }
        for (int i = 0; i < count; i++)
            RunUnchecked(transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta, c + i * strideC, ldc, threads);
    }

    // A product this large is parallelised inside instead of across the batch.
    internal static long BatchSplitThreshold = 256L * 256 * 256;

    private sealed class BatchJob<T> : IParallelTask where T : unmanaged, INumber<T>
    {
        [ThreadStatic] private static BatchJob<T>? t_cached;

        public bool TransA, TransB;
        public int M, N, K, Lda, Ldb, Ldc;
        public long StrideA, StrideB, StrideC;
        public T Alpha, Beta;
        public T* A, B, C;

        // One job object per thread, reused; a nested call on the same thread gets a fresh one.
        public static BatchJob<T> Take()
        {
            BatchJob<T> job = t_cached ?? new BatchJob<T>();
            t_cached = null;
            return job;
        }

        public static void Return(BatchJob<T> job)
        {
            job.A = job.B = job.C = null;
            t_cached = job;
        }

        public void Run(int index) =>
            RunUnchecked(TransA, TransB, M, N, K, Alpha, A + index * StrideA, Lda, B + index * StrideB, Ldb, Beta,
                C + index * StrideC, Ldc, 1);
    }

    private static void CheckShape(string name, bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentException($"{name}: sizes must be >= 0 but are m={m}, n={n}, k={k}");
        int aCols = transA ? m : k, bCols = transB ? k : n;
        if (lda < Math.Max(1, aCols))
            throw new ArgumentException($"{name}: lda={lda} is smaller than the {aCols} columns of A as stored (transA={Tf(transA)})");
        if (ldb < Math.Max(1, bCols))
            throw new ArgumentException($"{name}: ldb={ldb} is smaller than the {bCols} columns of B as stored (transB={Tf(transB)})");
        if (ldc < Math.Max(1, n))
            throw new ArgumentException($"{name}: ldc={ldc} is smaller than n={n}");
    }

    private static void CheckSpans(string name, bool transA, bool transB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        CheckShape(name, transA, transB, m, n, k, lda, ldb, ldc);
        long aNeed = Needed(transA ? k : m, transA ? m : k, lda);
        if (aLength < aNeed)
            throw new ArgumentException($"{name}: A needs at least {aNeed} elements for m={m},k={k},lda={lda} (transA={Tf(transA)}) but has {aLength}");
        long bNeed = Needed(transB ? n : k, transB ? k : n, ldb);
        if (bLength < bNeed)
            throw new ArgumentException($"{name}: B needs at least {bNeed} elements for k={k},n={n},ldb={ldb} (transB={Tf(transB)}) but has {bLength}");
        long cNeed = Needed(m, n, ldc);
        if (cLength < cNeed)
            throw new ArgumentException($"{name}: C needs at least {cNeed} elements for m={m},n={n},ldc={ldc} but has {cLength}");
    }

    // Elements spanned by a rows x cols matrix with row stride ld (the last row need not be padded).
    private static long Needed(int rows, int cols, int ld) => rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;

    private static string Tf(bool b) => b ? "true" : "false";
}

/// <summary>A GEMM's B operand packed once (<see cref="Gemm.PackB"/>), for the vector width and register file it was packed at.</summary>
internal sealed class PackedB(float[] data, bool transB, int n, int k, int width, bool wide, bool pooled = false)
{
    private float[]? _data = data;

    public float[] Data => _data ?? throw new ObjectDisposedException(nameof(PackedB), "the packed weight was returned to the buffer pool");
    public bool TransB { get; } = transB;
    public int N { get; } = n;
    public int K { get; } = k;
    public int Width { get; } = width;
    public bool Wide { get; } = wide;

    /// <summary>Gives a pooled packing (<c>PackB(..., pooled: true)</c>) back to the buffer pool; later use throws.</summary>
    public void Return()
    {
        if (pooled && _data is not null) BufferPool<float>.Return(_data);
        _data = null;
    }
}
